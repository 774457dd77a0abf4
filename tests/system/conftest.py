"""Shared fixtures for rrvm's system tests: paths to the emulator builds,
the project's Linux guest and Debian's OpenSBI, and a runner that returns
(exit status, stdout bytes, stderr text)."""
import os
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RRVM = os.path.join(ROOT, "build", "rrvm")
RRVM_ASAN = os.path.join(ROOT, "build", "asan", "rrvm")
GUEST = os.path.join(ROOT, "build", "guest")
GUEST_TESTS = os.path.join(ROOT, "build", "guest-tests")
FW_DIR = "/usr/lib/riscv64-linux-gnu/opensbi/generic"
FW_DYNAMIC = os.path.join(FW_DIR, "fw_dynamic.bin")
FW_JUMP = os.path.join(FW_DIR, "fw_jump.bin")
FIXED_RTC = "base=2026-01-01T00:00:00,clock=vm"


def run(args, timeout=300, binary=RRVM, stdin=subprocess.DEVNULL, env=None):
    p = subprocess.run([binary] + list(args), stdin=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def digest_of(stderr):
    for line in stderr.splitlines():
        if line.startswith("digest: "):
            return line.split()[1]
    return None


def linux_args(smp=1, append="", bios=FW_DYNAMIC, rtc=FIXED_RTC, extra=(), seed=None):
    """-seed N makes the guest's random bytes reproducible; without it they
    come from the host (a host input, logged when recording)."""
    seedopt = ["-seed", str(seed)] if seed is not None else []
    return seedopt + ["-smp", str(smp), "-m", "256M", "-bios", bios,
            "-kernel", os.path.join(GUEST, "Image"),
            "-initrd", os.path.join(GUEST, "rootfs.cpio"),
            "-append", "console=ttyS0 " + append, "-rtc", rtc] + list(extra)


@pytest.fixture(scope="session")
def guest():
    if not os.path.exists(os.path.join(GUEST, "Image")):
        pytest.fail("build/guest/Image is missing: run `make guest` (make test does)")
    return GUEST


def no_sanitizer_report(stderr):
    return "AddressSanitizer" not in stderr and "runtime error" not in stderr


def wait_for_socket(path, proc, timeout=30):
    """Wait for rrvm to listen (the socket file appears), not a fixed sleep."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "rrvm never listened on " + path
        time.sleep(0.02)
