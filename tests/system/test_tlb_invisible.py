"""The software TLB is invisible (issue 8): a paging guest that clears PTE
A/D bits without sfence.vma (tests/guest/tlb_ad.c) sees the bits set again
on every access, and ends with the same exit status, console output and
--digest under `rrvm run`, `rrvm record` (default checkpoint interval),
`rrvm record --checkpoint-interval 1000` (a checkpoint, and so a TLB flush,
every 1000 instructions) and the replay of each recording."""
import os

import pytest

from conftest import GUEST_TESTS, digest_of, run

TLB_AD_ELF = os.path.join(GUEST_TESTS, "tlb_ad.elf")
ARGS = ["--digest", "-seed", "1", "-rtc", "base=2026-01-01T00:00:00", "-bios", "none", "-kernel", TLB_AD_ELF]


@pytest.fixture(scope="module")
def tlb_ad_elf():
    if not os.path.exists(TLB_AD_ELF):
        pytest.fail(f"{TLB_AD_ELF} is missing: run `make guest-tests`")
    return TLB_AD_ELF


def check_passed(rc, out, err):
    text = out.decode(errors="replace")
    assert rc == 0, text[-2000:] + err[-2000:]
    assert "PASS tlb_ad" in text, text
    for what in ("A set again by a load", "A set again by a store", "D set again by a store",
                 "A set again by a fetch"):
        assert f"{what}: 300 of 300" in text, text
    assert digest_of(err), err


@pytest.fixture(scope="module")
def plain(tlb_ad_elf):
    rc, out, err = run(["run"] + ARGS, timeout=120)
    check_passed(rc, out, err)
    return out, digest_of(err)


@pytest.mark.parametrize("interval", [None, 1000])
def test_record_and_replay_match_run(plain, tmp_path, interval):
    rr = tmp_path / "tlb_ad.rr"
    extra = [] if interval is None else ["--checkpoint-interval", str(interval)]
    rc, out, err = run(["record", "-o", str(rr)] + extra + ARGS, timeout=120)
    check_passed(rc, out, err)
    assert (out, digest_of(err)) == plain

    replay_out = tmp_path / "replay.out"
    rc, _, err = run(["replay", str(rr), "-serial", f"file:{replay_out}", "--digest"], timeout=120)
    assert rc == 0, err[-2000:]
    assert replay_out.read_bytes() == plain[0]
    assert digest_of(err) == plain[1], err[-2000:]
