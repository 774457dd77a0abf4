"""Recording files: never lost (no overwrite, an incomplete file while
recording, one recorder per file, frames that reach the disk while the
guest runs), never misread (not a file, data after END, missing or swapped
frames, truncated during a replay, wrong image copies), self-contained
(`rrvm pack`), and described (`rrvm info`, `rrvm dump` filters)."""
import os
import re
import shutil
import signal
import struct
import subprocess
import time

import pytest

from conftest import (FW_DYNAMIC, GUEST, GUEST_TESTS, RRVM, digest_of, linux_args, no_sanitizer_report, run)

ELF = os.path.join(GUEST_TESTS, "rv64i.elf")


# the lines describing each loaded image (rrvm run/record print one per image)
DESCRIBED = re.compile(r"^rrvm: (bios|kernel|initrd|dtb): .*, \d+ bytes, [^,]+$|^rrvm: warning: ")


def one_line_error(err, *needles):
    lines = [l for l in err.splitlines() if l.strip() and not DESCRIBED.match(l)]
    assert len(lines) == 1, err
    for n in needles:
        assert n in err, f"expected '{n}' in: {err}"


def record_elf(path, *extra, elf=ELF):
    rc, out, err = run(["record", "-o", str(path), "-bios", "none", "-kernel", elf] + list(extra), timeout=120)
    assert rc == 0, err
    return out, err


def frames(data):
    """(header bytes, [frame bytes]) of a recording (format 2 or later: the
    same frames) without packed images."""
    assert data[:8] == b"RRVMLOG\0" and struct.unpack_from("<I", data, 8)[0] >= 2
    hlen = 16 + struct.unpack_from("<I", data, 12)[0] + 8
    out, off = [], hlen
    while off < len(data):
        assert data[off:off + 4] == b"RRVF"
        clen = struct.unpack_from("<I", data, off + 4)[0]
        out.append(data[off:off + 48 + clen])
        off += 48 + clen
    return data[:hlen], out


def wait_for(pred, what, timeout=120):
    t0 = time.monotonic()
    while not pred():
        assert time.monotonic() - t0 < timeout, f"timed out waiting for {what}"
        time.sleep(0.05)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("cmd", ["replay", "info", "dump"])
def test_dev_zero_is_refused_at_once(cmd):
    rc, out, err = run([cmd, "/dev/zero"], timeout=20)
    assert rc == 2
    assert "/dev/zero: not a regular file" in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo.rr"
    os.mkfifo(fifo)
    rc, out, err = run(["replay", str(fifo)], timeout=20)
    assert rc == 2 and "not a regular file" in err, err


def test_data_after_end_is_damage(tmp_path):
    rr = tmp_path / "a.rr"
    record_elf(rr)
    rc, _, err = run(["replay", str(rr)])
    assert rc == 0 and "matches" in err, err
    data = rr.read_bytes()
    rr.write_bytes(data + b"trailing garbage")
    rc, _, err = run(["replay", str(rr)])
    assert rc == 2, err
    assert "16 bytes follow the END event" in err and "corrupt" in err, err
    assert "matches" not in err.split("\n")[-2], err
    rc, _, err = run(["info", str(rr)])
    assert rc == 2 and "follow the END event" in err, err


def test_missing_or_swapped_frames_are_damage_not_divergence(tmp_path):
    rr = tmp_path / "f.rr"
    # checkpoints every 500 instructions: several frames of 64 KiB
    record_elf(rr, "--checkpoint-interval", "500")
    head, fr = frames(rr.read_bytes())
    assert len(fr) >= 3, len(fr)
    cases = {
        "deleted": head + b"".join(fr[:1] + fr[2:]),
        "swapped": head + b"".join([fr[0], fr[2], fr[1]] + fr[3:]),
        "repeated": head + b"".join(fr[:2] + fr[1:]),
    }
    for name, data in cases.items():
        bad = tmp_path / f"{name}.rr"
        bad.write_bytes(data)
        rc, _, err = run(["replay", str(bad)])
        assert rc == 2, (name, err)
        assert "missing or out of order" in err and "diverged" not in err, (name, err)
        rc, out, err = run(["info", str(bad)])
        assert rc == 2 and b"status:              corrupt" in out, (name, err)


def test_image_dir_copy_with_wrong_contents_is_named(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    shutil.copy(ELF, a / "k.elf")
    rr = tmp_path / "k.rr"
    record_elf(rr, elf=str(a / "k.elf"))
    (b / "k.elf").write_bytes(b"not the kernel")
    os.unlink(a / "k.elf")
    rc, _, err = run(["replay", str(rr), "--image-dir", str(b)])
    assert rc == 2, err
    one_line_error(err, str(b / "k.elf") + " does not match the recording's kernel image", str(a / "k.elf"))


def test_truncating_the_file_during_a_replay(guest, tmp_path):
    """The reader works on its own copy: cutting the file under a running
    replay changes nothing (it used to be a SIGBUS)."""
    rr = tmp_path / "long.rr"
    rc, rec_out, err = run(["record", "-o", str(rr), "--digest", "-seed", "5"] +
                           linux_args(append="rdtimeout=0 loops=3000000"), timeout=600)
    assert rc == 0, err[-2000:]
    want = digest_of(err)
    p = subprocess.Popen([RRVM, "replay", str(rr), "--digest"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = p.stdout.read(200)  # the replay is under way
    assert first
    os.truncate(rr, 100)
    out = p.stdout.read()  # (communicate() would lose what read() buffered)
    err = p.stderr.read().decode(errors="replace")
    assert p.wait(timeout=600) == 0, err[-2000:]
    assert p.poll() is not None
    assert digest_of(err) == want
    assert first + out == rec_out


# ---------------------------------------------------------- never lose one

def test_frames_holding_only_checkpoints_wait(tmp_path):
    """A frame holding an input ends within 0.5 s or 10^8 instructions; one
    holding only checkpoints within 2 s or 10^9 instructions: each frame
    costs ~60 bytes. smp.elf on one hart runs 10^9 instructions whose only
    input is the device tree's seed at icount 0: the first frame ends within
    10^8 + one slice (2*10^6) + one maximum checkpoint spacing (10^8), and
    the rest of the run takes at most three more frames (it took one per
    10^8 instructions, 11 in all)."""
    rr = tmp_path / "smp.rr"
    # with one hart, smp.elf waits 10^9 instructions for the others, then fails
    t0 = time.monotonic()
    rc, out, err = run(["record", "-o", str(rr), "-smp", "1", "-seed", "1", "-serial", "none", "-bios", "none",
                        "-kernel", os.path.join(GUEST_TESTS, "smp.elf")], timeout=300)
    wall = time.monotonic() - t0
    assert rr.exists(), err
    _, fr = frames(rr.read_bytes())
    firsts = [struct.unpack_from("<Q", f, 16)[0] for f in fr]
    assert firsts[0] == 0, firsts
    # on a loaded host the 2 s rule may end more frames: one per 2 s of wall time
    assert 2 <= len(fr) <= 4 + int(wall / 2.0), (firsts, wall)
    assert firsts[1] <= 10**8 + 2 * 10**6 + 10**8, firsts
    assert [struct.unpack_from("<Q", f, 32)[0] for f in fr] == list(range(len(fr)))  # numbered


def test_record_refuses_to_overwrite(tmp_path):
    rr = tmp_path / "a.rr"
    record_elf(rr)
    before = rr.read_bytes()
    rc, _, err = run(["record", "-o", str(rr), "-bios", "none", "-kernel", ELF])
    assert rc == 2
    one_line_error(err, f"{rr} already exists (use --force to replace it)")
    assert rr.read_bytes() == before
    assert not os.path.exists(str(rr) + ".incomplete")
    record_elf(rr, "--force")
    assert rr.read_bytes() != before  # another date in its header
    rc, _, err = run(["replay", str(rr)])
    assert rc == 0, err


def test_record_refuses_to_overwrite_its_input(tmp_path):
    k = tmp_path / "k.elf"
    shutil.copy(ELF, k)
    os.symlink(k, tmp_path / "other-name")
    for out in (k, tmp_path / "other-name"):
        rc, _, err = run(["record", "--force", "-o", str(out), "-bios", "none", "-kernel", str(k)])
        assert rc == 2
        one_line_error(err, "is the kernel image: a recording must not overwrite its own input")
    assert k.read_bytes() == open(ELF, "rb").read()


def test_failed_start_leaves_no_file(tmp_path):
    rr = tmp_path / "a.rr"
    rc, _, err = run(["record", "-o", str(rr), "-bios", "none", "-kernel", "/nonexistent.elf"])
    assert rc != 0
    assert os.listdir(tmp_path) == []


def test_default_directory_and_latest(tmp_path):
    env = dict(os.environ, RRVM_DIR=str(tmp_path / "recs"))
    for n in range(2):
        rc, _, err = run(["record", "-bios", "none", "-kernel", ELF], env=env)
        assert rc == 0, err
        assert f"recording to {tmp_path}/recs/rv64i.elf-{n}.rr" in err
    names = sorted(os.listdir(tmp_path / "recs"))
    assert names == ["latest", "rv64i.elf-0.rr", "rv64i.elf-1.rr"], names
    assert os.readlink(tmp_path / "recs" / "latest") == "rv64i.elf-1.rr"
    rc, _, err = run(["replay"], env=env)
    assert rc == 0 and "matches" in err, err
    rc, out, err = run(["info"], env=env)
    assert rc == 0 and b"rv64i.elf-1.rr" in out, err
    rc, out, err = run(["dump", "--kind", "END"], env=env)
    assert rc == 0 and out.count(b"\n") == 1 and b"END" in out, err
    rc, _, err = run(["replay"], env=dict(os.environ, RRVM_DIR=str(tmp_path / "none")))
    assert rc == 2 and "no recording given" in err, err


def test_in_progress_killed_and_second_recorder(guest, tmp_path):
    """While a recorder runs, its file is FILE.incomplete and locked: a
    second recorder is refused, info and replay say it is being written;
    after kill -9 the incomplete file replays to its last frame, and holds
    the console line printed before the kill."""
    rr = tmp_path / "boot.rr"
    inc = tmp_path / "boot.rr.incomplete"
    p = subprocess.Popen([RRVM, "record", "-o", str(rr)] + linux_args(append="rdtimeout=120000"),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        seen = b""
        while b"INIT: type a line:" not in seen:
            chunk = p.stdout.read1(4096)
            assert chunk, "the recorder ended early"
            seen += chunk
        # a frame written after the line was printed holds events past it
        size = inc.stat().st_size
        wait_for(lambda: inc.stat().st_size > size, "a frame after the console line")
        assert not rr.exists()

        rc, _, err = run(["record", "-o", str(rr), "-bios", "none", "-kernel", ELF])
        assert rc == 2
        one_line_error(err, f"{inc} is being written by process {p.pid}")
        rc, out, err = run(["info", str(inc)])
        assert rc == 0 and f"in progress (being written by process {p.pid})".encode() in out, out[-500:]
        rc, out, err = run(["replay", str(rr), "-serial", "none"], timeout=300)  # FILE means FILE.incomplete
        assert rc == 4 and f"still being written by process {p.pid}" in err, err[-2000:]
    finally:
        p.kill()
        p.wait()
    assert not rr.exists() and inc.exists()
    rc, out, err = run(["info", str(inc)])
    assert rc == 0 and b"status:              incomplete" in out, out[-500:]
    out_file = tmp_path / "replay.out"
    rc, _, err = run(["replay", str(inc), "-serial", f"file:{out_file}"], timeout=300)
    assert rc == 4 and "the recording was cut" in err, err[-2000:]
    assert b"INIT: type a line:" in out_file.read_bytes()
    # and a new recorder does not overwrite what the killed one left
    rc, _, err = run(["record", "-o", str(rr), "-bios", "none", "-kernel", ELF])
    assert rc == 2 and "cut short" in err, err


# ------------------------------------------------------------------ pack

def test_packed_linux_recording_replays_alone(guest, tmp_path):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for src in (os.path.join(GUEST, "Image"), os.path.join(GUEST, "rootfs.cpio"), FW_DYNAMIC):
        shutil.copy(src, imgs)
    rr = tmp_path / "boot.rr"
    args = ["-m", "256M", "-bios", str(imgs / "fw_dynamic.bin"), "-kernel", str(imgs / "Image"),
            "-initrd", str(imgs / "rootfs.cpio"), "-append", "console=ttyS0 rdtimeout=0 loops=1000", "-seed", "9"]
    rc, rec_out, err = run(["record", "-o", str(rr), "--digest"] + args, timeout=600)
    assert rc == 0, err[-2000:]
    want = digest_of(err)
    unpacked = rr.stat().st_size
    rc, _, err = run(["pack", str(rr)])
    assert rc == 0, err
    assert rr.stat().st_size > unpacked + 1000000
    assert not os.path.exists(str(rr) + ".packing")
    rc, out, err = run(["info", str(rr)])
    assert rc == 0 and out.count(b", packed\n") == 3 and b"packed images:       3" in out, out
    shutil.rmtree(imgs)
    fresh = tmp_path / "elsewhere"
    fresh.mkdir()
    shutil.move(str(rr), fresh / "boot.rr")
    p = subprocess.run([RRVM, "replay", "boot.rr", "--digest"], cwd=fresh, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=600)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 0, err[-2000:]
    assert digest_of(err) == want and p.stdout == rec_out


def test_record_pack_deduplicates(tmp_path):
    rr = tmp_path / "p.rr"
    k = tmp_path / "k.elf"
    shutil.copy(ELF, k)
    rc, _, err = run(["record", "--pack", "-o", str(rr), "-bios", "none", "-kernel", str(k), "-initrd", str(k)])
    assert rc == 0, err
    rc, out, err = run(["info", str(rr)])
    assert b"packed images:       1 " in out and out.count(b", packed\n") == 2, out
    os.unlink(k)
    rc, _, err = run(["replay", str(rr)])
    assert rc == 0 and "matches" in err, err
    # a damaged packed image is damage, named as such
    data = bytearray(rr.read_bytes())
    hlen = 16 + struct.unpack_from("<I", data, 12)[0] + 8
    assert data[hlen:hlen + 4] == b"RRVI"
    data[hlen + 56 + 100] ^= 0xff
    rr.write_bytes(bytes(data))
    rc, _, err = run(["replay", str(rr)])
    assert rc == 2 and "packed image at byte" in err and "fails its checksum" in err, err


def test_pack_refuses_a_cut_recording_and_keeps_it(tmp_path):
    rr = tmp_path / "c.rr"
    record_elf(rr)
    data = rr.read_bytes()[:-10]
    rr.write_bytes(data)
    rc, _, err = run(["pack", str(rr)])
    assert rc == 2 and "only a complete recording can be packed" in err, err
    assert rr.read_bytes() == data
    assert os.listdir(tmp_path) == ["c.rr"]


# ----------------------------------------------------------- info and dump

def test_info_describes_the_recording(tmp_path):
    rr = tmp_path / "i.rr"
    rc, _, err = run(["record", "-o", str(rr), "-bios", "none", "-kernel", ELF, "-rtc", "base=2026-01-01T00:00:00"])
    assert rc == 0, err
    rc, out, err = run(["info", str(rr)])
    text = out.decode()
    assert rc == 0, err
    assert "RTC:                 virtual, starts at 2026-01-01T00:00:00.000000000Z" in text, text
    assert f"command line:        rrvm record -o {rr} -bios none -kernel {ELF} -rtc base=2026-01-01T00:00:00" in text
    assert "recorded:            20" in text and "host:                " + os.uname().nodename in text, text
    assert "status:              complete" in text


def test_dump_filters_and_vtime(guest, tmp_path):
    rr = tmp_path / "d.rr"
    rc, _, err = run(["record", "-o", str(rr), "-icount", "shift=2"] + linux_args(append="rdtimeout=300"),
                     timeout=600)
    assert rc == 0, err[-2000:]
    rc, out, err = run(["dump", str(rr)])
    lines = out.decode().splitlines()
    kinds = [l.split()[2] for l in lines]
    assert "IDLE" in kinds and "CHECKPOINT" in kinds and kinds[-1] == "END"
    # vtime = icount << shift + the idle time before the event
    idle = 0
    for l in lines:
        f = l.split()
        sec, ns = f[1].split(".")
        assert int(sec) * 10**9 + int(ns) == (int(f[0]) << 2) + idle, l
        if f[2] == "IDLE":
            idle += int(f[3])
    rc, out, err = run(["dump", str(rr), "--no-idle"])
    assert rc == 0 and len(out.splitlines()) == len(lines) - kinds.count("IDLE")
    assert b" IDLE " not in out
    rc, out, err = run(["dump", str(rr), "--kind", "checkpoint,END"])
    assert rc == 0 and len(out.splitlines()) == kinds.count("CHECKPOINT") + 1
    mid = int(lines[len(lines) // 2].split()[0])
    rc, out, err = run(["dump", str(rr), "--from", str(mid), "--to", str(mid)])
    got = out.decode().splitlines()
    assert rc == 0 and got and all(int(l.split()[0]) == mid for l in got)
    assert got == [l for l in lines if int(l.split()[0]) == mid]
    rc, out, err = run(["dump", str(rr), "--kind", "NOPE"])
    assert rc == 2 and "unknown event kind 'NOPE'" in err


def test_a_second_pack_of_the_same_file_is_refused(tmp_path):
    rr = tmp_path / "s.rr"
    record_elf(rr)
    before = rr.read_bytes()
    (tmp_path / "s.rr.packing").write_bytes(b"another rrvm pack's copy")
    rc, _, err = run(["pack", str(rr)])
    assert rc == 2
    one_line_error(err, "s.rr.packing: File exists (another rrvm pack at work?")
    assert rr.read_bytes() == before
    assert (tmp_path / "s.rr.packing").read_bytes() == b"another rrvm pack's copy"
