"""The human monitor: `-serial mon:stdio` with Ctrl-A c (QEMU's mux) and
`-monitor stdio`, driving replays (replay_break, replay_seek, savevm,
loadvm) and recordings (system_reset, system_powerdown are logged and
replay identically)."""
import os
import re
import signal
import subprocess
import time

import pexpect

from conftest import GUEST_TESTS, RRVM, digest_of, linux_args, run

BARE = ["-bios", "none", "-m", "16M"]
RV64I = os.path.join(GUEST_TESTS, "rv64i.elf")
IDLE = os.path.join(GUEST_TESTS, "idle.elf")
PROMPT = r"\(rrvm\) "


def hmp(child, cmd):
    """Run one command at the prompt; its output (without the echo)."""
    child.send(cmd + "\r")
    child.expect(PROMPT)
    out = child.before.decode(errors="replace").replace("\r", "")
    return out.split("\n", 1)[1] if "\n" in out else ""


def test_mux_ctrl_a_c_drives_a_replay(tmp_path):
    rr = tmp_path / "r.rr"
    rc, _, err = run(["record", "-o", str(rr), "--digest"] + BARE + ["-kernel", RV64I])
    assert rc == 0, err
    total = int(re.search(r"recorded (\d+) instructions", err).group(1))
    child = pexpect.spawn(RRVM, ["replay", str(rr), "-serial", "mon:stdio", "-S", "--digest"], timeout=60)
    child.send("\x01c")  # the console goes to the monitor
    child.expect(PROMPT)
    assert "paused" in hmp(child, "info status")
    for ic in (1000, 5000, 20000):
        hmp(child, f"replay_break {ic}")
    assert "replay_break at icount 5000" in hmp(child, "info replay")
    seen = {}
    for ic in (1000, 5000, 20000):
        hmp(child, "cont")
        for _ in range(100):  # the machine runs between commands: wait for the stop
            if "paused" in hmp(child, "info status"):
                break
            time.sleep(0.05)
        assert hmp(child, "when").strip() == f"icount {ic}"
        seen[ic] = hmp(child, "info registers")
        assert " pc " in seen[ic]
    hmp(child, "replay_seek 1000")
    assert hmp(child, "info registers") == seen[1000]  # back where the first stop was
    hmp(child, "savevm first")
    hmp(child, "replay_seek 20000")
    hmp(child, "loadvm first")
    assert hmp(child, "when").strip() == "icount 1000"
    assert hmp(child, "info registers") == seen[1000]
    assert "first" in hmp(child, "info snapshots")
    assert re.search(r"0000000080000000: 0x[0-9a-f]{8}", hmp(child, "xp/4x 0x80000000"))
    assert "not while replaying" in hmp(child, "system_reset")
    assert "unknown command" in hmp(child, "frobnicate")
    hmp(child, "replay_seek %d" % total)
    child.send("quit\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def wait_paused(child):
    for _ in range(400):
        if "paused" in hmp(child, "info status"):
            return
        time.sleep(0.05)
    raise AssertionError("the machine did not stop")


def test_monitor_stdio_reset_and_powerdown_are_recorded(tmp_path):
    """system_reset and system_powerdown while recording are host inputs:
    logged at their icount, and the replay repeats them exactly."""
    rr = tmp_path / "r.rr"
    child = pexpect.spawn(RRVM, ["record", "-o", str(rr), "--digest", "-monitor", "stdio", "-serial", "none",
                                 "-S"] + BARE + ["-kernel", IDLE], timeout=60)
    child.expect(PROMPT)
    hmp(child, "replay_break 3000")
    hmp(child, "cont")
    wait_paused(child)
    assert hmp(child, "when").strip() == "icount 3000"
    assert hmp(child, "system_reset") == ""
    hmp(child, "replay_break 7000")
    hmp(child, "cont")
    wait_paused(child)
    assert hmp(child, "system_powerdown") == ""
    assert hmp(child, "when").strip() == "icount 7000"
    child.send("cont\r")
    child.expect(pexpect.EOF)  # the guest runs to its end
    child.close()
    assert child.exitstatus == 0
    rc, dump, _ = run(["dump", str(rr)])
    assert rc == 0
    assert re.search(rb"3000\s+RESET", dump) and re.search(rb"7000\s+POWERDOWN", dump), dump
    recorded = digest_of(child.before.decode(errors="replace"))
    rc, _, err = run(["replay", str(rr), "--digest"])
    assert rc == 0 and "matches" in err, err
    assert recorded is None or digest_of(err) == recorded


def test_stopped_vm_sleeps(tmp_path):
    """A stopped machine waits in poll: well under 1% CPU."""
    p = subprocess.Popen([RRVM, "run", "-monitor", "stdio", "-serial", "none", "-S"] + BARE + ["-kernel", IDLE],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        def cpu():
            f = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()
            return int(f[11]) + int(f[12])  # utime + stime, clock ticks
        t0, c0 = time.monotonic(), cpu()
        time.sleep(2)
        used = (cpu() - c0) / os.sysconf("SC_CLK_TCK")
        assert used / (time.monotonic() - t0) < 0.01, used
    finally:
        p.stdin.write(b"quit\n")
        p.stdin.flush()
        p.communicate(timeout=30)
    assert p.returncode == 0


def test_monitor_stdio_needs_the_console_elsewhere():
    rc, _, err = run(["run", "-monitor", "stdio"] + BARE + ["-kernel", RV64I])
    assert rc == 2 and "-serial mon:stdio" in err, err


def test_linux_mux_reset_from_the_monitor_replays(tmp_path, guest):
    """A user boots Linux, switches to the monitor with Ctrl-A c, resets
    the machine, switches back and quits: the recording replays exactly."""
    rr = tmp_path / "l.rr"
    child = pexpect.spawn(RRVM, ["record", "-o", str(rr), "--digest", "-serial", "mon:stdio"] +
                          linux_args(seed=3, append="rdtimeout=0 demo=1"), timeout=240)
    child.expect("rrvm# ")
    child.send("\x01c")
    child.expect(PROMPT)
    assert "running" in hmp(child, "info status")
    child.send("system_reset\r")
    child.expect(PROMPT)
    child.send("\x01c")  # back to the console: the guest boots again
    child.expect("Linux version")
    child.expect("rrvm# ")
    child.send("\x01x")
    child.expect(pexpect.EOF)
    child.close()
    out = child.before.decode(errors="replace")
    recorded = digest_of(out.replace("\r", ""))
    rc, dump, _ = run(["dump", str(rr)])
    assert rc == 0 and b"RESET" in dump
    rc, _, err = run(["replay", str(rr), "--digest", "-serial", "none"], timeout=300)
    assert rc == 0 and "matches" in err, err
    assert recorded is None or digest_of(err) == recorded


def test_signal_ends_a_stopped_session(tmp_path):
    """SIGTERM while the machine is stopped (the server sleeps in poll) ends
    the session as while running: a recording logs the shutdown and replays;
    a replay ends interrupted (130)."""
    rr = tmp_path / "r.rr"
    p = subprocess.Popen([RRVM, "record", "-o", str(rr), "-monitor", "stdio", "-serial", "none", "-S"] + BARE +
                         ["-kernel", IDLE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.read(7) == b"rrvm 0."  # the banner: the monitor is up, the machine stopped
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 0 and "SIGTERM at icount 0" in err.decode(), err
    rc, _, err = run(["replay", str(rr)])
    assert rc == 0 and "stopped by SIGTERM at icount 0" in err, err
    p = subprocess.Popen([RRVM, "replay", str(rr), "-monitor", "stdio", "-serial", "none", "-S"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.read(7) == b"rrvm 0."
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 130 and "interrupted by signal" in err.decode(), err


def test_go_live_from_the_monitor_records_a_branch(tmp_path):
    """go_live FILE in the middle of a replay: the rest runs live and is
    recorded into a new recording that starts from a snapshot of that
    point; the branch replays with a matching digest."""
    rr, branch = tmp_path / "r.rr", tmp_path / "branch.rr"
    rc, _, err = run(["record", "-o", str(rr), "--digest"] + BARE + ["-kernel", IDLE])
    assert rc == 0, err
    child = pexpect.spawn(RRVM, ["replay", str(rr), "-monitor", "stdio", "-serial", "none", "-S", "--digest"],
                          timeout=60)
    child.expect(PROMPT)
    hmp(child, "replay_break 4000")
    hmp(child, "cont")
    wait_paused(child)
    out = hmp(child, f"go_live {branch}")
    assert "live from icount 4000" in out, out
    assert "Recording" in hmp(child, "info replay")
    assert "not while replaying" not in hmp(child, "savevm live1")
    child.send("cont\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    rc, _, err = run(["replay", str(branch), "--digest"])
    assert rc == 0 and "matches" in err, err
