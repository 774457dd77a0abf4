"""Whole-program determinism: the bare-metal SMP guest test (four harts
racing on atomics, LR/SC, a ticket lock and IPIs) run twice gives the same
console output and final digest, and a recording of it replays to the same
output and digest; a Linux boot on two harts is reproducible at several
-icount shifts (which change how many instructions fit between timer
interrupts, so each shift is its own schedule)."""
import os

import pytest

from conftest import GUEST_TESTS, digest_of, linux_args, run

SMP_ELF = os.path.join(GUEST_TESTS, "smp.elf")
SMP_ARGS = ["-smp", "4", "--digest", "-seed", "1", "-rtc", "base=2026-01-01T00:00:00",
            "-bios", "none", "-kernel", SMP_ELF]


@pytest.fixture(scope="module")
def smp_elf():
    if not os.path.exists(SMP_ELF):
        pytest.fail(f"{SMP_ELF} is missing: run `make guest-tests`")
    return SMP_ELF


def run_smp(extra=()):
    rc, out, err = run(["run"] + SMP_ARGS + list(extra), timeout=120)
    assert rc == 0, out.decode(errors="replace")[-2000:] + err[-2000:]
    assert b"PASS smp" in out, out.decode(errors="replace")
    assert digest_of(err), err
    return out, digest_of(err)


def test_smp_two_runs_identical(smp_elf):
    out1, d1 = run_smp()
    out2, d2 = run_smp()
    assert out1 == out2
    assert d1 == d2


def test_smp_reproducible_at_another_shift(smp_elf):
    # another icount shift moves every timeout the guest computes from mtime
    out1, d1 = run_smp(["-icount", "shift=5"])
    out2, d2 = run_smp(["-icount", "shift=5"])
    assert (out1, d1) == (out2, d2)


def test_smp_record_replay(smp_elf, tmp_path):
    rr = tmp_path / "smp.rr"
    rc, rec_out, rec_err = run(["record", "-o", str(rr)] + SMP_ARGS, timeout=120)
    assert rc == 0, rec_err[-2000:]
    assert b"PASS smp" in rec_out
    rec_digest = digest_of(rec_err)
    assert rec_digest

    _, plain_digest = run_smp()
    assert rec_digest == plain_digest  # recording does not perturb the run

    for n in range(2):
        out = tmp_path / f"replay{n}.out"
        rc, _, err = run(["replay", str(rr), "-serial", f"file:{out}", "--digest"], timeout=120)
        assert rc == 0, err[-2000:]
        assert out.read_bytes() == rec_out
        assert digest_of(err) == rec_digest, err[-2000:]


@pytest.mark.parametrize("shift", [0, 3, 7])
def test_linux_smp2_reproducible(guest, shift):
    args = ["run"] + linux_args(smp=2, append="rdtimeout=0", seed=1) + ["--digest", "-icount", f"shift={shift}"]
    rc1, out1, err1 = run(args, timeout=300)
    rc2, out2, err2 = run(args, timeout=300)
    assert rc1 == 0 and rc2 == 0, err1[-2000:] + err2[-2000:]
    assert b"INIT: cpus=2" in out1, out1.decode(errors="replace")[-3000:]
    assert out1 == out2
    assert digest_of(err1) is not None
    assert digest_of(err1) == digest_of(err2)


def test_seed_alone_makes_a_linux_run_deterministic(guest):
    """-seed N, with no -rtc, fixes the guest's random bytes and the RTC
    base (2026-01-01): two plain runs print the same console, RTC date
    included, and end in the same digest."""
    from conftest import FW_DYNAMIC, GUEST
    args = ["run", "-seed", "1", "--digest", "-bios", FW_DYNAMIC, "-kernel", os.path.join(GUEST, "Image"),
            "-initrd", os.path.join(GUEST, "rootfs.cpio"), "-append", "console=ttyS0 rdtimeout=0"]
    runs = []
    for _ in range(2):
        rc, out, err = run(args, timeout=600)
        assert rc == 0, err[-2000:]
        runs.append((out, digest_of(err)))
    assert runs[0] == runs[1]
    assert b"INIT: rtc=2026-01-01" in runs[0][0]
