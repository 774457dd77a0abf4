"""Virtio devices on the virt board: the virtio-mmio transport as Linux
drives it, the device table (-device), and devices whose host input passes a
gate (virtio-rng: bytes logged in record, read back in replay)."""
import os
import re

from conftest import RRVM, digest_of, linux_args, run


def random_line(out):
    m = re.search(rb"INIT: random=([0-9a-f]{32})", out)
    return m.group(1) if m else None


def test_virtio_rng_differs_between_recordings_and_replays(guest, tmp_path):
    args = linux_args(smp=2, append="rdtimeout=0 loops=0", extra=["-device", "virtio-rng-device"])
    outs = []
    for name in ("a.rr", "b.rr"):
        rr = str(tmp_path / name)
        st, out, err = run(["record", "-o", rr, "--digest"] + args)
        assert st == 0, err
        assert b"INIT: random-source=hwrng" in out, out
        outs.append((rr, out, digest_of(err)))
    assert random_line(outs[0][1]) != random_line(outs[1][1])
    for rr, out, digest in outs:
        st, rout, err = run(["replay", rr, "--digest"])
        assert st == 0, err
        assert rout == out
        assert digest_of(err) == digest
    st, out, err = run(["info", outs[0][0]])
    assert "device 0:            virtio-rng-device (virtio-mmio@0x10008000)" in out.decode()


def test_virtio_rng_seeded_runs_agree_and_object_spelling(guest):
    args = linux_args(append="rdtimeout=0 loops=0", seed=7,
                      extra=["-object", "rng-random,id=r0,filename=/dev/urandom",
                             "-device", "virtio-rng-device,rng=r0"])
    st1, out1, err1 = run(["run", "--digest"] + args)
    st2, out2, err2 = run(["run", "--digest"] + args)
    assert st1 == 0 and st2 == 0, err1 + err2
    assert b"INIT: random-source=hwrng" in out1
    assert out1 == out2 and digest_of(err1) == digest_of(err2)


def test_device_options_refused_with_reasons(guest):
    cases = [
        (["-device", "virtio-gpu-device"], "unknown device"),
        (["-device", "virtio-rng-device,rng=nope"], "no -object rng-random,id=nope"),
        (["-object", "rng-random,id=r,filename=/tmp/x"], "only filename=/dev/urandom"),
        (["-device", "virtio-rng-device,bogus"], "needs a value"),
        (["-M", "bare", "-device", "virtio-rng-device"], "virtio devices need the virt board"),
        (["-device", "virtio-rng-device"] * 9, "all taken"),
    ]
    for extra, want in cases:
        st, out, err = run(["run"] + linux_args(extra=extra))
        assert st != 0 and want in err, (extra, err)
        assert len(err.strip().splitlines()) == 1 or "rrvm:" in err, err
