"""Guest-requested reset, done in place (machine_reset): a reboot loop
records and replays with a checkpoint due at every reset's icount (the
record side writes it before resetting; the replay must verify it before
resetting too)."""
import os
import signal
import subprocess

from conftest import ROOT, RRVM, run


def test_reboot_loop_with_checkpoints_at_each_reset(tmp_path):
    elf = tmp_path / "reboot.elf"
    subprocess.run(["riscv64-unknown-elf-gcc", "-nostdlib", "-T", os.path.join(ROOT, "tests/guest/link.ld"),
                    "-o", str(elf), os.path.join(ROOT, "tests/system/data/reboot_loop.S")], check=True)
    rr = tmp_path / "reboot.rr"
    # each boot runs 7 instructions, so icount 7, 14, ... are both resets
    # and checkpoints
    p = subprocess.Popen([RRVM, "record", "-o", str(rr), "--checkpoint-interval", "7", "-m", "16M",
                          "-bios", "none", "-kernel", str(elf), "--digest"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         bufsize=0)  # unbuffered: communicate() reads the fd and
    seen = b""                       # would lose what a buffered read(1) took
    while seen.count(b"R") < 5:  # wait for five boots, then stop it
        c = p.stdout.read(1)
        assert c, p.stderr.read()
        seen += c
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    out = seen + out
    err = err.decode(errors="replace")
    assert p.returncode == 0 and "SIGTERM" in err, err
    rc, dump, _ = run(["dump", str(rr)])
    assert rc == 0 and dump.count(b"CHECKPOINT") >= 5
    rc, out2, err2 = run(["replay", str(rr), "--digest"], timeout=120)
    assert rc == 0, err2
    assert out2 == out and "matches" in err2
    digest = [l for l in err.splitlines() if l.startswith("digest: ")]
    assert len(digest) == 1 and digest[0] in err2.splitlines()
