"""Malformed inputs are refused with one clear message and a non-zero
exit status, never a crash (run under the ASan+UBSan build)."""
import os
import re
import shutil

import pytest

from conftest import GUEST_TESTS, RRVM_ASAN, FW_DYNAMIC, no_sanitizer_report, run


def some_guest_elf():
    elfs = sorted(f for f in os.listdir(GUEST_TESTS) if f.endswith(".elf"))
    assert elfs, "no guest test programs were built"
    return os.path.join(GUEST_TESTS, elfs[0])


def refused(args, *needles):
    rc, out, err = run(["run"] + list(args), binary=RRVM_ASAN, timeout=60)
    assert rc == 2, err  # bad usage or image
    assert no_sanitizer_report(err), err
    low = err.lower()
    for n in needles:
        assert n.lower() in low, f"expected '{n}' in: {err}"
    # the lines describing each loaded image and warnings about them aside
    described = re.compile(r"^rrvm: (bios|kernel|initrd|dtb): .*, \d+ bytes, [^,]+$|^rrvm: warning: ")
    assert len([l for l in err.splitlines() if l.strip() and not described.match(l)]) <= 3, err
    return err


def test_truncated_elf(tmp_path):
    elf = open(some_guest_elf(), "rb").read()
    for cut in (10, 63, 100, len(elf) // 2):
        p = tmp_path / f"cut{cut}.elf"
        p.write_bytes(elf[:cut])
        rc, out, err = run(["run", "-bios", "none", "-kernel", str(p)], binary=RRVM_ASAN, timeout=60)
        assert rc != 0 and no_sanitizer_report(err), err
        assert "kernel" in err.lower(), err


def test_non_riscv_elf():
    refused(["-bios", "none", "-kernel", shutil.which("true") or "/bin/true"], "risc-v")


def test_missing_file():
    refused(["-bios", "none", "-kernel", "/nonexistent/prog.elf"], "/nonexistent/prog.elf")


def test_kernel_larger_than_ram(tmp_path):
    big = tmp_path / "big.Image"
    big.write_bytes(b"\x13\x00\x00\x00" * (9 << 18))  # 9 MiB of nops
    refused(["-m", "8M", "-bios", FW_DYNAMIC, "-kernel", str(big)], "kernel")


def test_unreadable_dtb(tmp_path):
    bad = tmp_path / "bad.dtb"
    bad.write_bytes(b"this is not a device tree blob")
    refused(["-bios", "none", "-kernel", some_guest_elf(), "-dtb", str(bad)], "dtb")
    refused(["-bios", "none", "-kernel", some_guest_elf(), "-dtb", str(tmp_path / "none.dtb")], "dtb")


def test_ram_too_small_for_firmware():
    refused(["-m", "1M", "-bios", FW_DYNAMIC, "-kernel", some_guest_elf()])


@pytest.mark.parametrize("smp", ["0", "9", "x"])
def test_bad_smp(smp):
    refused(["-smp", smp, "-bios", "none", "-kernel", some_guest_elf()], "-smp")


def test_bad_options():
    refused(["-icount", "shift=auto", "-bios", "none", "-kernel", some_guest_elf()], "icount")
    refused(["-m", "lots", "-bios", "none", "-kernel", some_guest_elf()], "-m")
    refused(["--no-such-option"], "unknown option")


def test_trap_storm_stops_with_a_message(tmp_path):
    """A guest whose trap vector faults forever retires nothing; rrvm stops
    it with a clear message instead of hanging the host."""
    import subprocess
    from conftest import ROOT
    elf = tmp_path / "storm.elf"
    subprocess.run(["riscv64-unknown-elf-gcc", "-nostdlib", "-T", os.path.join(ROOT, "tests/guest/link.ld"),
                    "-o", str(elf), os.path.join(ROOT, "tests/system/data/trap_storm.S")], check=True)
    rc, out, err = run(["run", "-bios", "none", "-kernel", str(elf)], binary=RRVM_ASAN, timeout=60)
    assert rc == 126, err
    assert "stuck taking exceptions" in err and no_sanitizer_report(err)


def test_elf_linked_with_plain_ttext_runs(tmp_path):
    """`gcc -nostdlib -Ttext=0x80000000` puts the ELF headers in a first
    PT_LOAD below RAM; QEMU runs such a file, and so does rrvm (the part
    outside RAM holds only headers and is dropped)."""
    import subprocess
    from conftest import ROOT
    elf = tmp_path / "ttext.elf"
    subprocess.run(["riscv64-unknown-elf-gcc", "-nostdlib", "-Ttext=0x80000000", "-o", str(elf),
                    os.path.join(ROOT, "tests/system/data/ttext_hello.S")], check=True)
    hdr = subprocess.run(["riscv64-unknown-elf-readelf", "-lW", str(elf)], capture_output=True, text=True).stdout
    assert "0x000000007ffff000" in hdr, hdr  # the shape this test is about
    rc, out, err = run(["run", "-bios", "none", "-kernel", str(elf)], binary=RRVM_ASAN, timeout=60)
    assert rc == 0 and out == b"TTEXT\n" and no_sanitizer_report(err), err
