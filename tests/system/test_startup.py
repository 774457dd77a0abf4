"""A session costs what the guest touches, not what -m says; an -m the host
cannot give is refused with a message instead of the OOM killer.

Peak RSS is measured with GNU time's %M (a child forked by Python would also
count Python's own pages). RSS does not depend on host speed; time is not
asserted here (bench/run-startup-bench prints it)."""
import os
import subprocess

from conftest import ROOT, RRVM, run

TINY_S = """
.globl _start
_start:
  li t0, 0x100000
  li t1, 0x5555
  sw t1, 0(t0)
1: j 1b
"""


def tiny_elf(tmp_path):
    src = tmp_path / "tiny.S"
    src.write_text(TINY_S)
    elf = tmp_path / "tiny.elf"
    subprocess.run(["riscv64-unknown-elf-gcc", "-nostdlib", "-T", os.path.join(ROOT, "tests/guest/link.ld"),
                    "-o", str(elf), str(src)], check=True)
    return elf


def peak_rss_kib(args):
    p = subprocess.run(["/usr/bin/time", "-f", "maxrss_kib=%M", RRVM] + args, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    err = p.stderr.decode(errors="replace")
    last = err.rstrip().splitlines()[-1]
    assert last.startswith("maxrss_kib="), err
    return p.returncode, int(last.split("=")[1]), err


def test_8g_guest_costs_what_it_touches(tmp_path):
    elf = tiny_elf(tmp_path)
    rr = tmp_path / "tiny.rr"
    machine = ["-seed", "1", "-m", "8G", "-bios", "none", "-kernel", str(elf), "--digest"]
    digests = []
    for args in (["run"] + machine, ["record", "-o", str(rr)] + machine, ["replay", str(rr), "--digest"]):
        rc, kib, err = peak_rss_kib(args)
        assert rc == 0, err
        assert kib < 64 * 1024, f"{args[0]}: peak RSS {kib} KiB"
        digests.append([l for l in err.splitlines() if l.startswith("digest: ")])
    assert digests[0] == digests[1] == digests[2] and len(digests[0]) == 1
    assert "matches" in err


def test_ram_beyond_the_host_is_refused(tmp_path):
    elf = tiny_elf(tmp_path)
    host = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    too_big = f"{(host >> 30) + 2}G"
    rr = tmp_path / "x.rr"
    for mode in (["run"], ["record", "-o", str(rr)]):
        rc, out, err = run(mode + ["-m", too_big, "-bios", "none", "-kernel", str(elf)], timeout=60)
        assert rc == 2, err
        assert err.startswith("rrvm: ") and len(err.strip().splitlines()) == 1, err
        assert f"-m {((host >> 30) + 2) * 1024}M" in err and f"({host >> 20} MiB)" in err, err
        assert "physical RAM" in err
    assert not rr.exists()  # refused before the recording is created


def xxh64(data):
    import ctypes
    import ctypes.util
    lib = ctypes.CDLL(ctypes.util.find_library("xxhash") or "libxxhash.so.0")
    lib.XXH64.restype = ctypes.c_uint64
    lib.XXH64.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]
    return lib.XXH64(data, len(data), 0)


def test_replay_of_ram_beyond_the_host_warns_and_goes_on(tmp_path):
    """A recording's -m larger than this host's RAM (made on a bigger host;
    here: a header patched the way docs/LOG_FORMAT.md lays it out) is
    replayed with a warning: the guest may touch far less than it has."""
    import struct
    elf = tiny_elf(tmp_path)
    rr = tmp_path / "tiny.rr"
    rc, _, err = run(["record", "-o", str(rr), "-seed", "1", "-m", "64M", "-bios", "none", "-kernel", str(elf)])
    assert rc == 0, err
    data = bytearray(rr.read_bytes())
    body_len = struct.unpack_from("<I", data, 12)[0]
    ver_len = struct.unpack_from("<I", data, 16)[0]
    at = 16 + 4 + ver_len
    assert struct.unpack_from("<Q", data, at)[0] == 64 << 20
    host = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    big = ((host >> 30) + 2) << 30
    struct.pack_into("<Q", data, at, big)
    struct.pack_into("<Q", data, 16 + body_len, xxh64(bytes(data[:16 + body_len])))
    rr.write_bytes(bytes(data))
    rc, _, err = run(["replay", str(rr)], timeout=60)
    assert f"warning: the recording's guest has {big >> 20} MiB of RAM (-m), more than this host's " \
           f"{host >> 20} MiB" in err, err
    # it went on: the machine was built and ran to the END event, whose digest
    # (which covers the RAM size) no longer matches the patched header
    assert rc == 3 and "end of recording" in err, err
