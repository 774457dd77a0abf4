"""The gdb stub (-gdb, -s, -S): stock gdb-multiarch drives rrvm over the
remote protocol. Live runs (registers, disassembly, breakpoints, stepping,
CSRs, harts as threads, memory), replays with reverse-stepi and
reverse-continue (ending with the recording's digest), the Linux guest, and
malformed packets over a raw socket."""
import os
import re
import socket
import subprocess

import pytest

from conftest import GUEST_TESTS, RRVM, digest_of, linux_args, run, wait_for_socket

GDB = "gdb-multiarch"
RV64I = os.path.join(GUEST_TESTS, "rv64i.elf")
SMP = os.path.join(GUEST_TESTS, "smp.elf")
BARE = ["-seed", "1", "-rtc", "base=2026-01-01T00:00:00", "-bios", "none", "-serial", "none"]


def start_rrvm(tmp_path, args):
    sock = str(tmp_path / "gdb.sock")
    proc = subprocess.Popen([RRVM] + args + ["-gdb", "unix:" + sock, "-S"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_socket(sock, proc)
    return proc, sock


def gdb(sock, elf, cmds, timeout=300):
    args = [GDB, "-batch", "-nx", "-ex", "set architecture riscv:rv64", "-ex", "set pagination off",
            "-ex", "target remote " + sock]
    for c in cmds:
        args += ["-ex", c]
    if elf:
        args.append(elf)
    p = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout, text=True)
    return p.stdout


def finish(proc, timeout=300):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def values(out, name="pc"):
    """The values gdb printed for `p/x $NAME` in order."""
    return [int(v, 16) for v in re.findall(r"^\$\d+ = (0x[0-9a-f]+)", out, re.M)]


def symbol(elf, name):
    out = subprocess.run(["nm", elf], stdout=subprocess.PIPE, text=True, check=True).stdout
    return int(re.search(r"^([0-9a-f]+) \w " + name + "$", out, re.M).group(1), 16)


def test_live_bare_metal_smp(tmp_path):
    proc, sock = start_rrvm(tmp_path, ["run", "-smp", "4"] + BARE + ["-kernel", SMP])
    out = gdb(sock, SMP, ["info registers pc", "x/4i $pc", "break test_end", "continue", "info threads",
                          "p/x $pc", "stepi", "p/x $pc", "p/x $mstatus", "p/x $mhartid", "thread 3",
                          "p/x $mhartid", "p/x *(unsigned long *)&boot_a0", "kill"])
    rc, _, err = finish(proc)
    assert "pc             0x80000000" in out, out
    assert "<_start>:\tcsrr\tt0,mhartid" in out, out  # x/4i disassembles guest memory
    assert re.search(r"Thread 1 hit Breakpoint 1, 0x[0-9a-f]+ in test_end", out), out
    for hart in range(4):
        assert "Thread %d (hart %d, M-mode" % (hart + 1, hart) in out, out
    v = values(out)
    pc_bp, pc_step, mstatus, hartid0, hartid2, boot_a0 = v[:6]
    assert symbol(SMP, "test_end") <= pc_bp < symbol(SMP, "test_end") + 64
    assert pc_step in (pc_bp + 2, pc_bp + 4)
    assert mstatus & 0xf00000000 == 0xa00000000  # UXL = SXL = 64: the real mstatus
    assert (hartid0, hartid2) == (0, 2)
    assert boot_a0 == 0  # hart 0 entered with a0 = its hartid
    assert "killed" in out
    assert rc == 0, err


def test_replay_reverse_step_and_continue(tmp_path):
    rr = tmp_path / "r.rr"
    rc, _, err = run(["record", "-o", str(rr)] + BARE + ["-kernel", RV64I, "--digest"])
    assert rc == 0, err
    recorded = digest_of(err)
    proc, sock = start_rrvm(tmp_path, ["replay", str(rr), "--digest", "--quiet", "-serial", "none"])
    fwd = ["break test_begin", "continue", "delete"] + ["stepi", "p/x $pc"] * 10
    back = ["reverse-stepi", "p/x $pc"] * 10
    out = gdb(sock, RV64I, fwd + back + ["monitor when"] + ["continue"])
    rc, _, err = finish(proc)
    pcs = values(out)
    assert len(pcs) == 20, out
    forward, backward = pcs[:10], pcs[10:]
    # reverse-stepi revisits the pcs in reverse order, ending where we began
    assert backward[:9] == forward[8::-1], out
    assert "replaylog" not in out or "No more reverse-execution history" not in out
    assert rc == 0, err
    assert digest_of(err) == recorded  # a replay driven through gdb ends as recorded
    assert "matches" in err


def test_replay_reverse_continue_hits_in_reverse_order(tmp_path):
    rr = tmp_path / "r.rr"
    rc, _, err = run(["record", "-o", str(rr)] + BARE + ["-kernel", RV64I, "--digest"])
    assert rc == 0, err
    recorded = digest_of(err)
    # three distinct functions, each hit once at least, in this order
    proc, sock = start_rrvm(tmp_path, ["replay", str(rr), "--digest", "--quiet", "-serial", "none"])
    out = gdb(sock, RV64I, ["break main", "break test_begin", "break test_end",
                            "continue", "monitor when", "continue", "monitor when", "continue", "monitor when",
                            "reverse-continue", "monitor when", "reverse-continue", "monitor when",
                            "reverse-continue", "p/x $pc", "monitor when", "delete", "continue"])
    rc, _, err = finish(proc)
    whens = [int(n) for n in re.findall(r"^icount (\d+)", out, re.M)]
    assert len(whens) == 6, out
    a, b, c, rb, ra, begin = whens
    assert a < b < c
    assert (rb, ra) == (b, a)  # the same stops, backwards
    assert begin == 0 and "No more reverse-execution history" in out
    assert values(out) == [0x80000000]
    assert rc == 0, err
    assert digest_of(err) == recorded


def test_replay_continue_to_end_reports_end(tmp_path):
    rr = tmp_path / "r.rr"
    rc, _, err = run(["record", "-o", str(rr)] + BARE + ["-kernel", RV64I])
    assert rc == 0, err
    proc, sock = start_rrvm(tmp_path, ["replay", str(rr), "--quiet", "-serial", "none"])
    out = gdb(sock, RV64I, ["continue", "monitor when", "monitor info replay", "continue", "kill"])
    rc, _, err = finish(proc)
    assert "No more reverse-execution history" in out, out
    total = int(re.search(r"at icount (\d+) of (\d+)", out).group(2))
    assert re.search(r"^icount %d$" % total, out, re.M), out


def packet(payload):
    return b"$" + payload + b"#%02x" % (sum(payload) & 0xff)


def read_reply(s):
    buf = b""
    while True:
        m = re.search(rb"\$([^#]*)#[0-9a-f]{2}", buf)
        if m:
            return m.group(1)
        chunk = s.recv(65536)
        assert chunk, "connection closed"
        buf += chunk


def test_bad_packets_get_errors(tmp_path):
    proc, sock = start_rrvm(tmp_path, ["run"] + BARE + ["-kernel", RV64I])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    s.settimeout(30)
    s.sendall(b"$g#00")  # bad checksum: nack
    assert s.recv(1) == b"-"
    s.sendall(packet(b"QStartNoAckMode"))
    assert read_reply(s) == b"OK"
    s.sendall(packet(b"m" + b"0" * 70000))  # oversized
    assert read_reply(s) == b"E01"
    s.sendall(packet(b"m10,8"))  # outside memory
    assert read_reply(s).startswith(b"E")
    s.sendall(packet(b"mzz,8"))  # garbage
    assert read_reply(s) == b"E01"
    s.sendall(b"garbage\x00\xff+-" + packet(b"p20"))  # noise between packets is ignored
    assert read_reply(s) == b"0000008000000000"  # pc = 0x80000000, little-endian
    s.sendall(packet(b"m80000000,4"))  # the stub lives on: csrr t0,mhartid
    assert read_reply(s) == b"f32240f1"
    s.sendall(packet(b"k"))
    s.close()
    rc, _, err = finish(proc)
    assert rc == 0, err


def test_remote_address_refused(tmp_path):
    rc, _, err = run(["run"] + BARE + ["-kernel", RV64I, "-gdb", "tcp:0.0.0.0:0", "-S"], timeout=30)
    assert rc == 2 and err.startswith("rrvm: -gdb tcp:0.0.0.0:0: not a loopback address"), err


def test_replay_reverse_stepi_on_one_hart_of_four(tmp_path):
    """reverse-stepi on hart 2 while four harts run round-robin: the other
    harts' instructions in between are skipped, hart 2's pcs come back."""
    rr = tmp_path / "smp.rr"
    rc, _, err = run(["record", "-o", str(rr), "-smp", "4"] + BARE + ["-kernel", SMP, "--digest"])
    assert rc == 0, err
    recorded = digest_of(err)
    proc, sock = start_rrvm(tmp_path, ["replay", str(rr), "--digest", "--quiet", "-serial", "none"])
    out = gdb(sock, SMP, ["break secondary", "continue", "delete", "thread 3", "p/x $mhartid"] +
              ["stepi", "p/x $pc"] * 5 + ["reverse-stepi", "p/x $pc"] * 5 + ["p/x $mhartid", "continue"])
    rc, _, err = finish(proc)
    v = values(out)
    assert v[0] == 2 and v[-1] == 2, out
    forward, backward = v[1:6], v[6:11]
    assert backward[:4] == forward[3::-1], out
    assert rc == 0 and digest_of(err) == recorded, err


def test_linux_two_harts(guest, tmp_path):
    rr = tmp_path / "lx.rr"
    rc, out, err = run(["record", "-o", str(rr), "--digest"] +
                       linux_args(smp=2, append="rdtimeout=0 loops=200000", seed=1), timeout=600)
    assert rc == 0 and b"INIT: poweroff" in out, err[-2000:]
    recorded = digest_of(err)
    vmlinux = os.path.join(guest, "vmlinux")
    proc, sock = start_rrvm(tmp_path, ["replay", str(rr), "--digest", "--quiet", "-serial", "none"])
    out = gdb(sock, vmlinux, ["break kernel_power_off", "continue", "p/x $pc", "monitor when",
                              "reverse-stepi", "monitor when", "p/x $pc", "info threads", "stepi", "p/x $pc",
                              "delete", "watch *(long *)&jiffies", "reverse-continue", "monitor when",
                              "info symbol $pc", "delete", "continue"])
    rc, _, err = finish(proc)
    bp = symbol(vmlinux, "kernel_power_off")
    pcs = values(out)
    assert pcs[0] == bp and pcs[2] == bp and pcs[1] != bp, out
    whens = [int(n) for n in re.findall(r"^icount (\d+)", out, re.M)]
    assert whens[1] < whens[0], out
    assert re.search(r"Thread 1 \(hart 0, S-mode", out) and re.search(r"Thread 2 \(hart 1, S-mode", out), out
    # the last tick before poweroff: jiffies went back by one, in the timer code
    old, new = map(int, re.search(r"Old value = (\d+)\nNew value = (\d+)", out).groups())
    assert old == new + 1, out
    assert whens[2] < whens[1] and "do_timer" in out, out
    assert rc == 0 and digest_of(err) == recorded, err[-2000:]


def test_replay_watchpoints_forward_and_reverse(tmp_path):
    rr = tmp_path / "r.rr"
    rc, _, err = run(["record", "-o", str(rr)] + BARE + ["-kernel", RV64I, "--digest"])
    assert rc == 0, err
    recorded = digest_of(err)
    proc, sock = start_rrvm(tmp_path, ["replay", str(rr), "--digest", "--quiet", "-serial", "none"])
    out = gdb(sock, RV64I, ["watch *(int *)&test_checks", "continue", "monitor when", "continue", "monitor when",
                            "continue", "monitor when", "reverse-continue", "monitor when",
                            "p *(int *)&test_checks", "delete", "continue"])
    rc, _, err = finish(proc)
    whens = [int(n) for n in re.findall(r"^icount (\d+)", out, re.M)]
    assert len(whens) == 4 and whens[0] < whens[1] < whens[2], out
    assert whens[3] == whens[2] - 1  # back to the store of the third write, not yet done
    olds_news = re.findall(r"Old value = (-?\d+)\nNew value = (-?\d+)", out)
    assert olds_news[:4] == [("0", "1"), ("1", "2"), ("2", "3"), ("3", "2")], out
    assert re.search(r"^\$1 = 2$", out, re.M), out
    assert rc == 0 and digest_of(err) == recorded, err


def test_remote_port_listens_on_loopback(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen([RRVM, "run"] + BARE + ["-kernel", RV64I, "-gdb", "tcp:127.0.0.1:%d" % port, "-S"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:  # the line comes once rrvm listens
        if "waiting for gdb" in line:
            break
    out = gdb("127.0.0.1:%d" % port, RV64I, ["p/x $pc", "kill"])
    rc, _, err = finish(proc)
    assert values(out) == [0x80000000], out
    assert rc == 0, err


def test_replay_launches_gdb(tmp_path):
    """rrvm replay --gdb --symbols ELF starts gdb-multiarch attached (as rr
    replay does); here gdb reads its commands from a pipe."""
    rr = tmp_path / "r.rr"
    rc, _, err = run(["record", "-o", str(rr)] + BARE + ["-kernel", RV64I])
    assert rc == 0, err
    p = subprocess.run([RRVM, "replay", str(rr), "--gdb", "--symbols", RV64I],
                       input="break test_end\ncontinue\np/x $pc\nkill\n", stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120)
    assert "Breakpoint 1, 0x%016x in test_end ()" % values(p.stdout.replace("(gdb) ", ""))[0] in p.stdout, p.stdout
    assert p.returncode == 0, p.stdout


def test_read_watchpoint_stops_after_the_load(tmp_path):
    rr = tmp_path / "r.rr"
    rc, _, err = run(["record", "-o", str(rr)] + BARE + ["-kernel", RV64I])
    assert rc == 0, err
    proc, sock = start_rrvm(tmp_path, ["replay", str(rr), "--quiet", "-serial", "none"])
    out = gdb(sock, RV64I, ["rwatch *(int *)&test_checks", "continue", "p/x $pc", "x/i $pc - 4", "kill"])
    finish(proc)
    assert re.search(r"Hardware read watchpoint 1: \*\(int \*\)&test_checks\n\nValue = 0", out), out
    # the instruction just before the stop is the load of test_checks
    assert re.search(r"<check_eq\w*\+\d+>:\s+lw\s", out), out


def test_monitor_commands_replay_break_seek_checkpoint_restart(tmp_path):
    """gdb's `monitor` runs the HMP table: replay_break stops a continue at
    that icount, checkpoint/restart (rr's spelling) and replay_seek move the
    replay, and the digest at the end is still the recording's."""
    rr = tmp_path / "r.rr"
    rc, _, err = run(["record", "-o", str(rr)] + BARE + ["-kernel", RV64I, "--digest"])
    assert rc == 0, err
    recorded = digest_of(err)
    proc, sock = start_rrvm(tmp_path, ["replay", str(rr), "--digest", "--quiet", "-serial", "none"])
    out = gdb(sock, RV64I, ["monitor replay_break 1000", "continue", "monitor when", "p/x $pc",
                            "monitor checkpoint", "stepi", "stepi", "stepi", "monitor when",
                            "monitor restart 1", "maint flush register-cache", "monitor when", "p/x $pc",
                            "monitor replay_seek 5", "maint flush register-cache", "monitor when",
                            "monitor info replay", "monitor frobnicate", "continue"])
    rc, _, err = finish(proc)
    whens = [int(n) for n in re.findall(r"^icount (\d+)", out, re.M)]
    assert whens == [1000, 1003, 1000, 5], out
    assert "Checkpoint 1 at icount 1000" in out, out
    pcs = values(out)
    assert len(pcs) == 2 and pcs[0] == pcs[1], out
    assert "unknown command: 'frobnicate'" in out, out
    assert rc == 0, err
    assert digest_of(err) == recorded and "matches" in err


def test_replay_gdb_on_a_terminal_gets_every_key(tmp_path):
    """rrvm replay --gdb on a terminal: the keys are gdb's alone (rrvm used
    to read the same terminal for Ctrl-A keys and ate some of gdb's)."""
    import pexpect
    rr = tmp_path / "r.rr"
    rc, _, err = run(["record", "-o", str(rr)] + BARE + ["-kernel", RV64I])
    assert rc == 0, err
    child = pexpect.spawn(RRVM, ["replay", str(rr), "--gdb", "--symbols", RV64I], timeout=60)
    child.expect(r"\(gdb\) ")
    for _ in range(5):  # keys typed while the replay runs under gdb's continue
        child.send("monitor when\r")
        child.expect(r"icount \d+")
        child.expect(r"\(gdb\) ")
    child.send("break test_end\r")
    child.expect(r"\(gdb\) ")
    child.send("continue\r")
    child.expect("Breakpoint 1, ")
    child.expect(r"\(gdb\) ")
    child.send("kill\r")
    child.expect(r"\(y or n\) ")
    child.send("y\r")
    child.expect(r"\(gdb\) ")
    child.send("quit\r")
    child.expect(pexpect.EOF)
    child.close()


def test_linux_reverse_continue_across_long_windows(guest, tmp_path):
    """reverse-continue over tens of millions of instructions: windows
    capped and aligned to checkpoints, checkpoints left at hits. The stop is
    the last hit: continuing from it meets no other hit before the end, and
    the earlier run_init_process hit is where a forward run finds it."""
    rr = tmp_path / "lx.rr"
    rc, out, err = run(["record", "-o", str(rr), "--digest"] +
                       linux_args(append="rdtimeout=0 loops=6000000", seed=1), timeout=600)
    assert rc == 0 and b"INIT: poweroff" in out, err[-2000:]
    recorded = digest_of(err)
    vmlinux = os.path.join(guest, "vmlinux")
    init = "break *%#x" % symbol(vmlinux, "run_init_process")  # one address both ways
    proc, sock = start_rrvm(tmp_path, ["replay", str(rr), "--digest", "--quiet", "-serial", "none"])
    out = gdb(sock, vmlinux, [
        init, "continue", "monitor when",                               # forward: the hit
        "delete", "break kernel_power_off", "continue", "monitor when",  # the end
        "break update_process_times", "reverse-continue", "monitor when",  # last tick
        "continue", "monitor when",                                     # no tick after it
        "reverse-continue", "reverse-continue", "monitor when",         # two ticks back
        "continue", "monitor when",                                     # forward: the next tick
        "delete", init, "reverse-continue", "monitor when",
        "delete", "continue"])
    rc, _, err = finish(proc)
    w = [int(n) for n in re.findall(r"^icount (\d+)", out, re.M)]
    assert len(w) == 7, out
    init_hit, end, last_tick, after, two_back, next_tick, init_again = w
    assert end - init_hit > 30000000, out  # long enough for several capped windows
    assert init_hit < two_back < last_tick < end and after == end, out
    assert two_back < next_tick == last_tick, out
    assert init_again == init_hit, out
    assert rc == 0 and digest_of(err) == recorded, err[-2000:]
