"""Console backends: stdout carries only the guest console; -serial file:
and -serial none redirect or drop it; rrvm's own messages go to stderr."""
import os

from conftest import GUEST_TESTS, run


MIX = os.path.join(GUEST_TESTS, "mix.elf")


def test_stdout_is_only_the_guest_console():
    rc, out, err = run(["run", "--digest", "--stats", "-bios", "none", "-kernel", MIX])
    assert rc == 0, err
    assert out.decode().strip().splitlines() == ["PASS mix (11 checks)"]
    assert "digest: " in err and "instructions: " in err


def test_serial_file_and_none(tmp_path):
    f = tmp_path / "console.txt"
    rc, out, err = run(["run", "-serial", f"file:{f}", "-bios", "none", "-kernel", MIX])
    assert rc == 0 and out == b"", err
    assert f.read_text().strip() == "PASS mix (11 checks)"
    rc, out, err = run(["run", "-serial", "none", "-bios", "none", "-kernel", MIX])
    assert rc == 0 and out == b"", err
    rc, out, err = run(["run", "-serial", "tcp:1234", "-bios", "none", "-kernel", MIX])
    assert rc != 0 and "-serial tcp:1234" in err


def test_ctrl_a_b_sends_a_break_that_is_recorded_and_replayed(guest, tmp_path):
    """Ctrl-A b while recording: a UART break (logged as UART_BREAK, its own
    event kind), the guest goes on; the replay delivers it at the same
    icount and matches. (The guest kernel has no MAGIC_SYSRQ; the UART side
    of a break is checked in tests/unit/test_devices.c.)"""
    import pexpect
    import shlex
    from conftest import RRVM, linux_args
    rr = tmp_path / "break.rr"
    errf = tmp_path / "rec.err"
    cmd = " ".join(shlex.quote(a) for a in [RRVM, "record", "-o", str(rr)] +
                   linux_args(append="rdtimeout=0 demo=1")) + f" 2>{errf}"
    child = pexpect.spawn("/bin/bash", ["-c", cmd], timeout=120)
    child.expect("rrvm# ")
    child.send("\x01b")
    child.send("echo after-break\r")
    child.expect("after-break")
    child.expect("rrvm# ")
    child.send("\x01x")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, errf.read_text()
    rc, dump, err = run(["dump", str(rr)])
    breaks = [l for l in dump.decode().splitlines() if "UART_BREAK" in l]
    assert len(breaks) == 1 and breaks[0].endswith("port 0"), dump.decode()[-2000:]
    rc, out, err = run(["replay", str(rr)], timeout=300)
    assert rc == 0 and "matches" in err, err[-2000:]
    assert b"after-break" in out


def test_ctrl_a_x_stops_a_replay(guest, tmp_path):
    """In replay the terminal is read for escapes only: Ctrl-A x stops it
    and says where, out of the total."""
    import pexpect
    from conftest import RRVM, linux_args
    rr = tmp_path / "boot.rr"
    rc, out, err = run(["record", "-o", str(rr)] + linux_args(append="rdtimeout=0"), timeout=600)
    assert rc == 0, err[-2000:]
    child = pexpect.spawn(RRVM, ["replay", str(rr)], timeout=300)
    # typed at once: the terminal holds the keys until the replay reads them,
    # so this does not race with the end of a fast replay
    child.send("\x01x")
    child.expect(r"replay stopped by Ctrl-A x at icount \d+ of \d+ \(")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130


def test_break_reaches_a_bare_metal_guest_and_replays(tmp_path):
    """Ctrl-A b on rrvm's console (here from a pipe) gives the guest a
    16550 break: LSR.BI with DR, then the zero byte; the recording holds a
    UART_BREAK event and the replay matches."""
    import subprocess
    from conftest import ROOT, RRVM
    elf = tmp_path / "break.elf"
    subprocess.run(["riscv64-unknown-elf-gcc", "-nostdlib", "-T", os.path.join(ROOT, "tests/guest/link.ld"),
                    "-o", str(elf), os.path.join(ROOT, "tests/system/data/uart_break.S")], check=True)
    rr = tmp_path / "break.rr"
    p = subprocess.run([RRVM, "record", "-o", str(rr), "-bios", "none", "-kernel", str(elf)], input=b"\x01b",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    assert p.returncode == 0 and p.stdout == b"BREAK OK\n", p.stderr.decode()
    rc, dump, err = run(["dump", str(rr)])
    assert b"UART_BREAK" in dump
    rc, out, err = run(["replay", str(rr)], timeout=120)
    assert rc == 0 and out == b"BREAK OK\n" and "matches" in err, err
