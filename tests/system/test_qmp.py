"""QMP (-qmp SPEC, QEMU's machine protocol) over unix sockets, with a small
client written here: a replay of the Linux guest driven to replay-break
points, sought back, saved and loaded (registers identical at each visit),
run to its end (RRVM_REPLAY_END, the recording's digest); resets and
powerdowns sent while recording come back in the replay at the same
icounts; protocol errors leave the VM running; two clients both get
events; a stopped VM sleeps; a remote address is refused."""
import json
import os
import random
import re
import socket
import subprocess
import time

import pytest

from conftest import GUEST_TESTS, RRVM, digest_of, linux_args, no_sanitizer_report, run, wait_for_socket

MIX = os.path.join(GUEST_TESTS, "mix.elf")  # 3 million instructions, then exits 0
BARE = ["-seed", "1", "-rtc", "base=2026-01-01T00:00:00", "-bios", "none", "-serial", "none"]


class Qmp:
    """A QMP client: execute() returns the reply; events that arrive
    meanwhile are kept in self.events (oldest first)."""

    def __init__(self, path, timeout=300):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.rfile = self.sock.makefile("rb")
        self.events = []   # not yet waited for
        self.history = []  # every event received
        self.greeting = self._read()
        assert "QMP" in self.greeting, self.greeting

    def _read(self):
        line = self.rfile.readline()
        assert line, "rrvm closed the QMP connection"
        return json.loads(line)

    def send_raw(self, data):
        self.sock.sendall(data)

    def reply(self):
        while True:
            m = self._read()
            if "event" in m:
                assert "timestamp" in m, m
                self.events.append(m)
                self.history.append(m)
            else:
                return m

    def execute(self, cmd, args=None, id=None, **kw):
        """kw are arguments, with _ for - (command_line=...)."""
        msg = {"execute": cmd}
        args = dict(args or {}, **{k.replace("_", "-"): v for k, v in kw.items()})
        if args:
            msg["arguments"] = args
        if id is not None:
            msg["id"] = id
        self.send_raw(json.dumps(msg).encode() + b"\n")
        return self.reply()

    def cmd(self, cmd, args=None, **kw):
        r = self.execute(cmd, args, **kw)
        assert "return" in r, (cmd, r)
        return r["return"]

    def hmp(self, line):
        return self.cmd("human-monitor-command", command_line=line)

    def wait_event(self, name):
        """The first event called name (earlier ones of other names are dropped)."""
        while True:
            while self.events:
                e = self.events.pop(0)
                if e["event"] == name:
                    return e
            m = self._read()
            assert "event" in m, m
            self.events.append(m)
            self.history.append(m)

    def quit(self):
        """quit; rrvm may have ended already (a guest that exits ends it)."""
        try:
            r = self.execute("quit")
            assert r == {"return": {}}, r
        except (AssertionError, OSError):
            pass

    def close(self):
        self.rfile.close()
        self.sock.close()


STARTED = []


@pytest.fixture(autouse=True)
def no_leftover_rrvm():
    """A failed test must not leave its rrvm waiting for a client forever."""
    yield
    while STARTED:
        p = STARTED.pop()
        if p.poll() is None:
            p.kill()
            p.wait()


def start(tmp_path, args, name="qmp.sock"):
    sock = str(tmp_path / name)
    proc = subprocess.Popen([RRVM] + args + ["-qmp", "unix:%s,server=on,wait=off" % sock, "-S"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    STARTED.append(proc)
    wait_for_socket(sock, proc)
    q = Qmp(sock)
    q.cmd("qmp_capabilities")
    return proc, q, sock


def finish(proc, timeout=300):
    out, err = proc.communicate(timeout=timeout)
    assert no_sanitizer_report(err), err[-3000:]
    return proc.returncode, out, err


def total_icount(rr):
    rc, out, err = run(["info", str(rr)])
    assert rc == 0, err
    return int(re.search(rb"^instructions: +(\d+)", out, re.M).group(1))


def icount(q):
    return q.cmd("query-replay")["icount"]


@pytest.fixture(scope="module")
def linux_rr(tmp_path_factory, guest):
    rr = tmp_path_factory.mktemp("qmp") / "lx.rr"
    rc, out, err = run(["record", "-o", str(rr), "--digest", "-serial", "none"] +
                       linux_args(smp=1, append="rdtimeout=0 loops=200000", seed=1), timeout=600)
    assert rc == 0, err[-2000:]
    return rr, digest_of(err), total_icount(rr)


def test_replay_breaks_seek_savevm(linux_rr, tmp_path):
    """The Done-when: three replay-break points visited, a seek back, savevm
    and loadvm, registers equal at every visit of the same icount, the end
    of the recording reported, and the recording's digest at exit."""
    rr, recorded, total = linux_rr
    proc, q, _ = start(tmp_path, ["replay", str(rr), "--digest", "--quiet", "-serial", "none"])
    st = q.cmd("query-status")
    assert st["running"] is False and st["status"] in ("paused", "prelaunch"), st
    replay = q.cmd("query-replay")
    assert replay["mode"] == "play" and replay["icount"] == 0, replay
    assert os.path.realpath(replay["filename"]) == os.path.realpath(str(rr)), replay
    assert len(q.cmd("query-cpus-fast")) == 1
    assert {"name": "replay-seek"} in q.cmd("query-commands")
    breaks = [total // 4, total // 2, 3 * total // 4]
    for b in breaks:
        q.cmd("replay-break", icount=b)
    regs = []
    for b in breaks:
        q.cmd("cont")
        q.wait_event("STOP")
        assert q.wait_event("RRVM_REPLAY_BREAK")["data"]["icount"] == b
        assert icount(q) == b
        assert q.cmd("query-status")["running"] is False
        regs.append(q.hmp("info registers"))
    assert len(set(regs)) == 3, regs  # three different places
    q.cmd("replay-seek", icount=breaks[0])
    assert icount(q) == breaks[0]
    assert q.hmp("info registers") == regs[0]
    q.hmp("savevm s1")
    q.cmd("replay-delete-break")  # whatever is left (breaks may be one-shot, as QEMU's)
    q.cmd("replay-break", icount=breaks[1])
    q.cmd("replay-break", icount=breaks[2])
    q.cmd("replay-delete-break", icount=breaks[1])
    q.cmd("cont")
    q.wait_event("STOP")
    assert icount(q) == breaks[2]  # the deleted break was passed by
    q.hmp("loadvm s1")
    assert icount(q) == breaks[0]
    assert q.hmp("info registers") == regs[0]
    q.cmd("replay-delete-break")
    q.cmd("cont")
    end = q.wait_event("RRVM_REPLAY_END")
    assert end["data"]["icount"] == total
    assert icount(q) == total
    assert q.cmd("quit") == {}
    rc, _, err = finish(proc)
    assert rc == 0, err[-2000:]
    assert digest_of(err) == recorded, err[-2000:]


def test_resets_and_powerdowns_replay_at_the_same_icounts(tmp_path):
    """Record a bare-metal guest while QMP sends system_reset and
    system_powerdown at seeded random icounts; its replay ends with the
    recording's digest and shows the same events at the same icounts."""
    rng = random.Random(20261202)
    first = 3016477  # mix.elf's length: the resets land within its first run
    points = sorted(rng.sample(range(1000, first - 1000), 4))
    actions = ["system_reset", "system_powerdown"] * 2
    rng.shuffle(actions)
    rr = tmp_path / "r.rr"
    proc, q, _ = start(tmp_path, ["record", "-o", str(rr), "--digest"] + BARE + ["-kernel", MIX])
    assert q.cmd("query-replay")["mode"] == "record"
    for p in points:
        q.cmd("replay-break", icount=p)
    for p, action in zip(points, actions):
        q.cmd("cont")
        q.wait_event("STOP")
        assert icount(q) == p
        q.cmd(action)
    q.cmd("cont")
    q.wait_event("SHUTDOWN")
    names = [e["event"] for e in q.history]
    assert names.count("RESET") == actions.count("system_reset"), names
    assert names.count("POWERDOWN") == actions.count("system_powerdown"), names
    q.quit()
    rc, _, err = finish(proc)
    assert rc == 0, err[-2000:]
    recorded = digest_of(err)

    rc, _, err = run(["replay", str(rr), "--digest", "--quiet", "-serial", "none"])
    assert rc == 0 and digest_of(err) == recorded, err[-2000:]

    # under QMP: stop just before and just after each point; the event comes
    # between the two, and nowhere else
    proc, q, _ = start(tmp_path, ["replay", str(rr), "--digest", "--quiet", "-serial", "none"], "replay.sock")
    for p in points:
        q.cmd("replay-break", icount=p)
        q.cmd("replay-break", icount=p + 1)
    for p, action in zip(points, actions):
        for at in (p, p + 1):
            mark = len(q.history)
            q.cmd("cont")
            q.wait_event("STOP")
            assert icount(q) == at
            seen = [e["event"] for e in q.history[mark:] if e["event"] in ("RESET", "POWERDOWN")]
            want = ["RESET" if action == "system_reset" else "POWERDOWN"] if at == p + 1 else []
            assert seen == want, (p, at, seen)
    q.cmd("cont")
    q.wait_event("RRVM_REPLAY_END")
    q.quit()
    rc, _, err = finish(proc)
    assert rc == 0 and digest_of(err) == recorded, err[-2000:]


def test_protocol_errors_leave_the_vm_running(guest, tmp_path):
    """A live run of Linux whose init hashes for a long while (10^8 loops)."""
    proc, q, _ = start(tmp_path, ["run", "-serial", "none"] +
                       linux_args(smp=1, append="rdtimeout=0 loops=100000000", seed=1))
    q.cmd("cont")
    q.send_raw(b'{"execute": nonsense}\n')
    e = q.reply()["error"]
    assert e["class"] == "GenericError" and e["desc"].startswith("JSON parse error"), e
    assert q.execute("no-such-command", id=5) == {
        "error": {"class": "CommandNotFound", "desc": "The command no-such-command has not been found"}, "id": 5}
    r = q.execute("replay-break", icount="soon")
    assert r["error"] == {"class": "GenericError", "desc": "Invalid parameter type for 'icount', expected: integer"}
    assert q.execute("replay-seek")["error"]["desc"] == "Parameter 'icount' is missing"
    assert q.execute("query-status", bogus=1)["error"]["desc"] == "Parameter 'bogus' is unexpected"
    q.send_raw(b'[1]\n"x"\n')
    assert q.reply()["error"]["desc"] == "QMP input must be a JSON object"
    assert q.reply()["error"]["desc"] == "QMP input must be a JSON object"
    q.send_raw(b'{"execute": "query-name", "id": {"x": [1]}}{"execute": "query-kvm", "id": 2}\n')
    assert q.reply() == {"return": {}, "id": {"x": [1]}}
    assert q.reply() == {"return": {"enabled": False, "present": False}, "id": 2}
    a = icount(q)
    time.sleep(0.2)
    st = q.cmd("query-status")
    assert st == {"running": True, "singlestep": False, "status": "running"}, st
    assert icount(q) > a  # the machine went on meanwhile
    assert q.cmd("query-replay")["mode"] == "none"
    q.quit()
    rc, _, err = finish(proc)
    assert rc == 0, err[-2000:]


def test_two_clients_both_get_events(tmp_path):
    rr = tmp_path / "r.rr"
    rc, _, err = run(["record", "-o", str(rr)] + BARE + ["-kernel", MIX])
    assert rc == 0, err
    proc, a, sock = start(tmp_path, ["replay", str(rr), "--quiet", "-serial", "none"])
    b = Qmp(sock)
    b.cmd("qmp_capabilities")
    a.cmd("replay-break", icount=100000)
    a.cmd("cont")
    for c in (a, b):
        assert c.wait_event("RESUME")
        assert c.wait_event("RRVM_REPLAY_BREAK")["data"]["icount"] == 100000
    assert b.cmd("query-replay")["icount"] == 100000
    b.close()  # a hang-up drops that client only
    a.cmd("cont")
    a.wait_event("RRVM_REPLAY_END")
    a.quit()
    rc, _, err = finish(proc)
    assert rc == 0, err


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14, 15)


def test_stopped_vm_sleeps(tmp_path):
    proc, q, _ = start(tmp_path, ["run"] + BARE + ["-kernel", MIX])
    assert q.cmd("query-status")["running"] is False
    before = cpu_ticks(proc.pid)
    time.sleep(2)
    used = cpu_ticks(proc.pid) - before
    hz = os.sysconf("SC_CLK_TCK")
    assert used <= 0.01 * 2 * hz, "%d ticks in 2 s while stopped" % used
    q.quit()
    rc, _, err = finish(proc)
    assert rc == 0, err


def test_remote_address_refused(tmp_path):
    rc, _, err = run(["run"] + BARE + ["-kernel", MIX, "-qmp", "tcp:0.0.0.0:0,server=on,wait=off", "-S"],
                     timeout=30)
    assert rc == 2, err
    lines = [l for l in err.splitlines() if "-qmp" in l]  # (images loaded are named before)
    assert len(lines) == 1 and "--allow-remote-monitor" in lines[0] and err.endswith(lines[0] + "\n"), err


def test_qmp_shell_if_present(tmp_path):
    """QEMU's own client, when installed (python3-qemu.qmp is not in Debian 12)."""
    shell = next((p for p in ("qmp-shell", "qemu-qmp-shell") if
                  subprocess.run(["sh", "-c", "command -v " + p], stdout=subprocess.DEVNULL).returncode == 0),
                 None)
    if not shell:
        pytest.skip("qmp-shell is not installed")
    proc, q, sock = start(tmp_path, ["run"] + BARE + ["-kernel", MIX])
    out = subprocess.run([shell, sock], input="query-status\nquery-version\n", text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60).stdout
    assert "paused" in out or "prelaunch" in out, out
    q.quit()
    finish(proc)
