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
