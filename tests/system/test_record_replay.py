"""Record the Linux guest while console input is typed at random real-time
moments, the RTC is read and random bytes are consumed; replay it three
times: console output byte-identical, every checkpoint equal, same final
digest. Broken recordings give one clear error line, never a crash."""
import os
import random
import re
import shlex
import subprocess
import time

import pexpect
import pytest

from conftest import RRVM, RRVM_ASAN, digest_of, linux_args, no_sanitizer_report, run


def record_interactive(tmp_path, name, smp, rtc, shift=None, strict=False, seed=1):
    rr = tmp_path / f"{name}.rr"
    errf = tmp_path / f"{name}.rec.err"
    extra = ["--digest"]
    if shift is not None:
        extra += ["-icount", f"shift={shift}"]
    if strict:
        extra += ["--verify=strict"]
    args = ["record", "-o", str(rr)] + linux_args(smp=smp, rtc=rtc, append="rdtimeout=20000 loops=300000",
                                                  extra=extra)
    cmd = " ".join(shlex.quote(a) for a in [RRVM] + args) + f" 2>{errf}"
    rng = random.Random(seed)
    child = pexpect.spawn("/bin/bash", ["-c", cmd], timeout=300)
    # a few keys typed early, during the boot, land in the guest's tty buffer
    time.sleep(rng.uniform(0.0, 0.3))
    child.send("ab")
    child.expect("INIT: type a line:")
    for ch in "hello replay":
        time.sleep(rng.uniform(0.0, 0.08))
        child.send(ch)
    child.send("\r")
    child.expect("INIT: echo: ")
    child.expect(pexpect.EOF)
    child.close()
    err = errf.read_text()
    assert child.exitstatus == 0, err
    return rr, err


def replay(rr, tmp_path, n, binary=RRVM, extra=()):
    out = tmp_path / f"replay{n}.out"
    rc, _, err = run(["replay", str(rr), "-serial", f"file:{out}", "--digest"] + list(extra),
                     binary=binary, timeout=600)
    return rc, out.read_bytes(), err


@pytest.mark.parametrize("smp,rtc,shift", [(1, "base=utc,clock=host", None), (2, "base=utc,clock=host", None),
                                           (1, "base=utc,clock=vm", 4)],
                         ids=["smp1", "smp2", "smp1-shift4"])
def test_record_replay_interactive(guest, tmp_path, smp, rtc, shift):
    rr, rec_err = record_interactive(tmp_path, "rec", smp, rtc, shift=shift, seed=smp * 7 + (shift or 0))
    rec_digest = digest_of(rec_err)
    assert rec_digest
    outs = []
    for n in range(3):
        rc, out, err = replay(rr, tmp_path, n)
        assert rc == 0, err[-3000:]
        assert "matches" in err, err[-3000:]
        assert digest_of(err) == rec_digest
        outs.append(out)
    text = outs[0].decode(errors="replace")
    # keys typed before the 8250 driver starts are dropped by its FIFO reset
    assert re.search(r"INIT: echo: (a?b?)hello replay", text), text[-2000:]
    assert "INIT: random=" in text and "unavailable" not in text.split("INIT: random=")[1].splitlines()[0]
    assert outs[0] == outs[1] == outs[2]


def test_record_output_equals_replay_output(guest, tmp_path):
    """stdout of `rrvm record` (no input, output to a pipe) and of
    `rrvm replay` are byte-identical."""
    rr = tmp_path / "plain.rr"
    rc, rec_out, rec_err = run(["record", "-o", str(rr), "--digest"] +
                               linux_args(smp=2, rtc="base=utc,clock=host", append="rdtimeout=0"), timeout=600)
    assert rc == 0, rec_err[-2000:]
    rc, rep_out, rep_err = run(["replay", str(rr), "--digest"], timeout=600)
    assert rc == 0, rep_err[-2000:]
    assert rec_out == rep_out
    assert digest_of(rec_err) == digest_of(rep_err)
    rc, info, err = run(["info", str(rr)])
    assert rc == 0 and b"CHECKPOINT" in info and b"RANDOM" in info, err
    rc, dump, err = run(["dump", str(rr)])
    assert rc == 0 and b"END" in dump, err


@pytest.fixture(scope="module")
def small_recording(tmp_path_factory):
    d = tmp_path_factory.mktemp("rr")
    rr = d / "small.rr"
    rc, out, err = run(["record", "-o", str(rr), "--checkpoint-interval", "2000000"] +
                       linux_args(smp=1, append="rdtimeout=0"), timeout=600)
    assert rc == 0, err[-2000:]
    return rr


@pytest.mark.parametrize("what", ["x10", "mscratch", "ram:0x80400000"])
def test_perturbation_is_reported(guest, small_recording, what):
    rc, out, err = run(["replay", str(small_recording), f"--test-perturb=30000000:{what}"], timeout=600)
    assert rc == 3, err[-3000:]
    assert "diverged" in err
    name = {"x10": "a0", "mscratch": "mscratch", "ram:0x80400000": "0x80400000"}[what]
    assert name in err, err[-3000:]


def refused(args, needle):
    rc, out, err = run(args, binary=RRVM_ASAN, timeout=600)
    assert rc != 0, err[-2000:]
    assert no_sanitizer_report(err), err[-4000:]
    assert needle.lower() in err.lower(), err[-2000:]
    return err


def test_truncated_recording(guest, small_recording, tmp_path):
    data = small_recording.read_bytes()
    for frac in (0.5, 0.9):
        cut = tmp_path / f"cut{frac}.rr"
        cut.write_bytes(data[: int(len(data) * frac)])
        err = refused(["replay", str(cut)], "cut")
    for n in (3, 20, 100):
        cut = tmp_path / f"head{n}.rr"
        cut.write_bytes(data[:n])
        refused(["replay", str(cut)], str(cut))


def test_bitflipped_recording(guest, small_recording, tmp_path):
    data = bytearray(small_recording.read_bytes())
    for off in (len(data) // 3, len(data) - 40):
        bad = bytearray(data)
        bad[off] ^= 0x10
        p = tmp_path / f"flip{off}.rr"
        p.write_bytes(bytes(bad))
        refused(["replay", str(p)], "checksum")


def test_wrong_version_recording(guest, small_recording, tmp_path):
    data = bytearray(small_recording.read_bytes())
    data[8] = 0x63  # format version field follows the 8-byte magic
    p = tmp_path / "future.rr"
    p.write_bytes(bytes(data))
    refused(["replay", str(p)], "version")


def test_wrong_image(guest, tmp_path):
    """A replay refuses an image whose contents changed, naming it."""
    import shutil
    from conftest import GUEST, FW_DYNAMIC
    d = tmp_path / "imgs"
    d.mkdir()
    for src in (os.path.join(GUEST, "Image"), os.path.join(GUEST, "rootfs.cpio"), FW_DYNAMIC):
        shutil.copy(src, d)
    rr = tmp_path / "img.rr"
    args = ["-m", "256M", "-bios", str(d / "fw_dynamic.bin"), "-kernel", str(d / "Image"),
            "-initrd", str(d / "rootfs.cpio"), "-append", "console=ttyS0 rdtimeout=0 loops=1000"]
    rc, out, err = run(["record", "-o", str(rr)] + args, timeout=600)
    assert rc == 0, err[-2000:]
    (d / "rootfs.cpio").write_bytes(b"not the same initrd")
    err = refused(["replay", str(rr)], "initrd")
    assert "does not match" in err
    # moved images are found with --image-dir
    moved = tmp_path / "moved"
    shutil.move(str(d), str(moved))
    shutil.copy(os.path.join(GUEST, "rootfs.cpio"), moved / "rootfs.cpio")
    rc, out2, err = run(["replay", str(rr), "--image-dir", str(moved)], timeout=600)
    assert rc == 0, err[-2000:]
    assert out2 == out


def read_until(pipe, marker, timeout=300):
    """Read a child's output until `marker` appears (or it ends, or the
    timeout passes: then fail); returns what was read."""
    import select
    got = b""
    deadline = time.monotonic() + timeout
    fd = pipe.fileno()
    while marker not in got:
        left = deadline - time.monotonic()
        assert left > 0, f"no {marker!r} within {timeout} s; got {got[-500:]!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 65536)
            assert chunk, f"output ended before {marker!r}: {got[-500:]!r}"
            got += chunk
    return got


def test_killed_recording_replays_to_its_last_frame(guest, tmp_path):
    """kill -9 while recording: the recording replays up to its last
    complete frame, then says where and why it ended."""
    final = tmp_path / "killed.rr"
    rr = tmp_path / "killed.rr.incomplete"  # a recording is renamed into place only when complete
    args = [RRVM, "record", "-o", str(final)] + linux_args(append="rdtimeout=60000")
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    # wait for the event, not a fixed time: boot until init waits for a line...
    read_until(p.stdout, b"INIT: type a line:")
    # ...then until a frame written after it reaches the disk (twice a second)
    size = rr.stat().st_size
    deadline = time.monotonic() + 60
    while rr.stat().st_size == size and time.monotonic() < deadline:
        time.sleep(0.05)
    p.kill()
    p.wait()
    assert not final.exists()
    assert rr.stat().st_size > 100
    rc, out, err = run(["replay", str(rr)], timeout=300)
    assert rc == 4, err[-2000:]
    assert "cut" in err and "icount" in err, err[-2000:]
    assert no_sanitizer_report(err)


def test_replay_skips_idle_time(guest, tmp_path):
    """Recording waits in real time while the guest idles (init waits 4 s
    for console input nobody types); replay adds the logged idle time at
    once instead of waiting."""
    rr = tmp_path / "idle.rr"
    t0 = time.monotonic()
    rc, rec_out, err = run(["record", "-o", str(rr), "--stats"] + linux_args(append="rdtimeout=4000"), timeout=300)
    rec_wall = time.monotonic() - t0
    assert rc == 0, err[-2000:]
    assert b"INIT: no input (timeout)" in rec_out
    assert rec_wall >= 4.0
    t0 = time.monotonic()
    rc, rep_out, err = run(["replay", str(rr)], timeout=300)
    rep_wall = time.monotonic() - t0
    assert rc == 0, err[-2000:]
    assert rep_out == rec_out
    # generous margin: the point is that replay does not sleep through 4 s
    assert rep_wall < rec_wall - 2.5, (rec_wall, rep_wall)


def test_shell_session_and_ctrl_a_x(guest, tmp_path):
    """The demo's shell: commands typed at the prompt, then Ctrl-A x quits
    rrvm (exit 0, cause logged); the replay prints the same session and
    says why the recording ended."""
    rr = tmp_path / "shell.rr"
    errf = tmp_path / "shell.err"
    args = ["record", "-o", str(rr)] + linux_args(append="rdtimeout=0 demo=1")
    cmd = " ".join(shlex.quote(a) for a in [RRVM] + args) + f" 2>{errf}"
    child = pexpect.spawn("/bin/bash", ["-c", cmd], timeout=120)
    child.expect("rrvm# ")
    child.send("echo hello from the shell\r")
    child.expect("hello from the shell\r\n")
    child.expect("rrvm# ")
    child.send("ls /\r")
    child.expect("init")
    child.expect("rrvm# ")
    child.send("date\r")
    child.expect("2026-01-01")
    child.expect("rrvm# ")
    time.sleep(0.3)
    child.send("\x01x")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, errf.read_text()
    assert "Ctrl-A x" in errf.read_text()
    rc, out, err = replay(rr, tmp_path, 0)
    assert rc == 0, err[-2000:]
    text = out.decode(errors="replace")
    assert "hello from the shell" in text and "2026-01-01" in text
    assert "stopped by console quit key" in err


def test_asan_build_records_and_replays_linux(guest, tmp_path):
    """The ASan+UBSan build boots, records and replays Linux on 2 harts
    without a sanitizer report."""
    rr = tmp_path / "asan.rr"
    rc, rec_out, err = run(["record", "-o", str(rr), "--digest", "--stats"] +
                           linux_args(smp=2, rtc="base=utc,clock=host", append="rdtimeout=0"),
                           binary=RRVM_ASAN, timeout=600)
    assert rc == 0 and no_sanitizer_report(err), err[-3000:]
    assert f"log bytes: {rr.stat().st_size}" in err
    rc, rep_out, err2 = run(["replay", str(rr), "--digest"], binary=RRVM_ASAN, timeout=600)
    assert rc == 0 and no_sanitizer_report(err2), err2[-3000:]
    assert rec_out == rep_out and b"INIT: poweroff" in rep_out
    assert digest_of(err) == digest_of(err2)


def test_guest_reboot_loop_record_replay_and_sigterm(tmp_path):
    """A guest that reboots itself forever: SIGTERM stops the recording
    (cause logged), and the replay goes through the same resets."""
    import signal
    from conftest import ROOT
    elf = tmp_path / "reboot.elf"
    subprocess.run(["riscv64-unknown-elf-gcc", "-nostdlib", "-T", os.path.join(ROOT, "tests/guest/link.ld"),
                    "-o", str(elf), os.path.join(ROOT, "tests/system/data/reboot_loop.S")], check=True)
    rr = tmp_path / "reboot.rr"
    p = subprocess.Popen([RRVM, "record", "-o", str(rr), "-bios", "none", "-kernel", str(elf)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = read_until(p.stdout, b"RR")  # two boots seen, however slow the start was
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    out = first + out
    assert p.returncode == 0, err
    assert b"SIGTERM" in err and out.count(b"R") >= 2
    rc, out2, err2 = run(["replay", str(rr)], timeout=120)
    assert rc == 0, err2
    assert out2 == out and "stopped by SIGTERM" in err2
