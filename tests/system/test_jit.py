"""The JIT is invisible (issue 13): Linux (2 harts, interactive input) boots
to the same console output and --digest with --jit=on, off and check (every
compiled block also run by the interpreter, which stops with status 125 at
the first difference); a recording made with the JIT replays identically
without it and the other way round; bad --jit values are refused.

The whole suite also runs with $RRVM_JIT=off and the guest tests with
$RRVM_JIT=check (Makefile: test-nojit, test-jit-check)."""
import os

import pytest

from conftest import digest_of, linux_args, run

APPEND = "rdtimeout=0 loops=300000"


def boot(mode, extra=(), smp=2):
    rc, out, err = run(["run", "--digest", f"--jit={mode}"] + linux_args(smp=smp, append=APPEND, seed=3) +
                       list(extra), timeout=900)
    assert rc == 0, f"--jit={mode}: status {rc}\n" + err[-3000:]
    assert b"INIT: checksum=" in out, out[-2000:]
    return out, digest_of(err)


@pytest.fixture(scope="module")
def interpreted(guest):
    return boot("off")


def test_linux_boot_same_with_jit_on(interpreted):
    assert boot("on") == interpreted


def test_linux_boot_jit_check_finds_no_difference(interpreted):
    """--jit=check compiles every block at its first run and compares each
    run of compiled code with the interpreter's (registers, pc, instruction
    count, memory stored)."""
    out, digest = boot("check")
    assert (out, digest) == interpreted


def record(tmp_path, name, mode):
    rr = tmp_path / f"{name}.rr"
    rc, out, err = run(["record", "-o", str(rr), "--digest", f"--jit={mode}"] +
                       linux_args(smp=2, append=APPEND, seed=5), timeout=900)
    assert rc == 0, err[-3000:]
    return rr, out, digest_of(err)


def replay(rr, mode):
    rc, out, err = run(["replay", str(rr), "--digest", f"--jit={mode}"], timeout=900)
    assert rc == 0, f"replay --jit={mode}: status {rc}\n" + err[-3000:]
    return out, digest_of(err)


@pytest.mark.parametrize("rec_mode,rep_mode", [("on", "off"), ("off", "on")])
def test_recordings_do_not_depend_on_the_engine(guest, tmp_path, rec_mode, rep_mode):
    rr, out, digest = record(tmp_path, "jit", rec_mode)
    assert replay(rr, rep_mode) == (out, digest)


def test_environment_sets_the_default(guest, tmp_path):
    env = dict(os.environ, RRVM_JIT="nonsense")
    rc, _, err = run(["run", "-bios", "none", "-kernel", "/nonexistent"], env=env)
    assert rc == 2
    assert err.strip().splitlines()[-1] == "rrvm: RRVM_JIT=nonsense: takes on, off or check", err


@pytest.mark.parametrize("bad", ["--jit=yes", "--jit="])
def test_bad_jit_values_are_refused(bad):
    rc, _, err = run(["run", bad, "-bios", "none", "-kernel", "/nonexistent"])
    assert rc == 2
    assert "takes on, off or check" in err, err
    assert len(err.strip().splitlines()) == 1, err
