"""Sparse checkpoints (recording format 5): digests between full ones,
spaced 10^7 instructions after an input and up to 10^8 apart otherwise. A
divergence is still caught at the first checkpoint after it, so within the
maximum spacing, and the report names what differs from the next full
checkpoint, or says that only the digest is known."""
import os
import re

from conftest import GUEST_TESTS, run

SMP = os.path.join(GUEST_TESTS, "smp.elf")  # one hart: 10^9 instructions, no input after icount 0
BARE = ["-smp", "1", "-seed", "1", "-serial", "none", "-bios", "none", "-kernel", SMP]
PERTURB = 300000000
MAX_SPACING = 10**8


def record(path, *extra):
    rc, _, err = run(["record", "-o", str(path)] + list(extra) + BARE, timeout=300)
    assert path.exists(), err
    return err


def checkpoints(path):
    rc, out, err = run(["dump", str(path), "--kind", "checkpoint"])
    assert rc == 0, err
    return [(int(l.split()[0]), l.split()[3]) for l in out.decode().splitlines()]


def detected_at(err):
    m = re.search(r"replay diverged: checkpoint at icount (\d+) differs", err)
    assert m, err[-3000:]
    return int(m.group(1))


def test_default_schedule_spacing_and_digests(tmp_path):
    rr = tmp_path / "d.rr"
    record(rr)
    cks = checkpoints(rr)
    icounts = [ic for ic, _ in cks]
    # 10^7 after the input at 0, then doubling up to 10^8
    assert icounts[:6] == [10**7, 2 * 10**7, 4 * 10**7, 8 * 10**7, 16 * 10**7, 26 * 10**7], icounts
    gaps = [b - a for a, b in zip(icounts, icounts[1:])]
    assert max(gaps) == MAX_SPACING, gaps
    assert all(what.startswith("digest=") for _, what in cks), cks  # no full one before 5*10^9
    rc, info, err = run(["info", str(rr)])
    assert b"after an input, else up to 100000000 apart; full every 5000000000" in info, info
    assert rc == 0 and b"status:              complete" in info, err
    rc, _, err = run(["replay", str(rr)])
    assert "matches" in err, err[-2000:]


def test_divergence_between_full_checkpoints_is_caught_and_named(tmp_path):
    """A RAM byte flipped between two full checkpoints: the next digest
    catches it (within the maximum spacing), the next full checkpoint names
    the page."""
    rr = tmp_path / "f.rr"
    record(rr, "--full-checkpoint-interval", "200000000")
    cks = checkpoints(rr)
    full = [ic for ic, what in cks if what.startswith("icount=")]
    assert full and full[0] >= 2 * 10**8, cks
    assert any(PERTURB < ic < full[1] and what.startswith("digest=") for ic, what in cks), cks
    rc, _, err = run(["replay", str(rr), f"--test-perturb={PERTURB}:ram:0x80400000"])
    assert rc == 3, err[-3000:]
    at = detected_at(err)
    assert PERTURB < at <= PERTURB + MAX_SPACING, err[-3000:]
    assert "state digest recorded" in err and "not recorded here" in err, err[-3000:]
    m = re.search(r"at the next full checkpoint, (\d+) instructions later:", err)
    assert m and 0 < int(m.group(1)) <= 2 * 10**8 + MAX_SPACING, err[-3000:]
    assert "RAM differs: 0x80400000-0x80400fff (1 page)" in err, err[-3000:]


def test_divergence_with_only_digests_left_says_so(tmp_path):
    """With no full checkpoint after the divergence, the report says only the
    digest is known (and what the end of the recording found)."""
    rr = tmp_path / "n.rr"
    record(rr)
    rc, _, err = run(["replay", str(rr), f"--test-perturb={PERTURB}:mscratch"])
    assert rc == 3, err[-3000:]
    at = detected_at(err)
    assert PERTURB < at <= PERTURB + MAX_SPACING, err[-3000:]
    assert "state digest recorded" in err, err[-3000:]
    assert "then, before a full checkpoint:" in err and "end of recording" in err, err[-3000:]
    # stopped before the end: the digest mismatch is still the verdict
    rc, _, err = run(["replay", str(rr), f"--test-perturb={PERTURB}:mscratch", "--stop-at", str(at + 1000)])
    assert rc == 3, err[-3000:]
    assert "only the digest is known to differ" in err, err[-3000:]


def test_explicit_interval_keeps_every_checkpoint_full(tmp_path):
    rr = tmp_path / "e.rr"
    record(rr, "--checkpoint-interval", "50000000")
    cks = checkpoints(rr)
    assert [ic for ic, _ in cks] == [50000000 * k for k in range(1, len(cks) + 1)], cks
    assert all(what.startswith("icount=") for _, what in cks), cks
    rc, info, _ = run(["info", str(rr)])
    assert b"every 50000000 instructions, all full" in info, info
