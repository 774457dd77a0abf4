"""Character devices as QEMU spells them (-chardev, -serial chardev:ID) and
the virtio console (-device virtio-serial-device, -device virtconsole):
guest input from any chardev passes the console gate (UART_RX with a port
number) and replays at the same icount with no backend opened; a replay's
-chardev only redirects outputs.

The Linux guest runs with -smp 2: its /init opens /dev/hvc0 once, and on a
single hart the kworker that registers hvc0 (it waits for kthreadd and
devtmpfs) may not have run yet by then, a race in the guest, not the
device (Linux creates hvc0 a little later either way)."""
import os
import re
import socket
import stat
import subprocess
import time

from conftest import RRVM, digest_of, linux_args, run, wait_for_socket

VCON = "rdtimeout=0 loops=0 vcon=1"


def vcon_args(extra, append=VCON):
    return linux_args(smp=2, append=append, extra=extra)


def read_until(proc_out_fd, buf, want, timeout=60):
    """Read a non-blocking pipe into buf (a bytearray) until want appears."""
    deadline = time.monotonic() + timeout
    while want not in buf:
        assert time.monotonic() < deadline, bytes(buf)[-2000:]
        try:
            chunk = os.read(proc_out_fd, 65536)
        except BlockingIOError:
            chunk = None
        if chunk:
            buf += chunk
        else:
            time.sleep(0.02)


def connect_unix(path, proc, timeout=30):
    """The socket file appears at bind(), a moment before listen()."""
    wait_for_socket(path, proc)
    deadline = time.monotonic() + timeout
    while True:
        c = socket.socket(socket.AF_UNIX)
        try:
            c.connect(path)
            return c
        except ConnectionRefusedError:
            c.close()
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)


def test_socket_record_then_replay_without_socket(guest, tmp_path):
    sock = str(tmp_path / "c0.sock")
    rr = str(tmp_path / "vcon.rr")
    args = vcon_args(["-chardev", f"socket,id=c0,path={sock},server=on,wait=off",
                      "-device", "virtio-serial-device", "-device", "virtconsole,chardev=c0"])
    p = subprocess.Popen([RRVM, "record", "-o", rr, "--digest"] + args, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        c = connect_unix(sock, p)
        c.settimeout(60)
        got = b""
        while b"hello from hvc0" not in got:
            chunk = c.recv(4096)
            assert chunk, got
            got += chunk
        os.set_blocking(p.stdout.fileno(), False)
        console = bytearray()
        read_until(p.stdout.fileno(), console, b"INIT: vcon: waiting")
        c.sendall(b"ping from the host\n")
        os.set_blocking(p.stdout.fileno(), True)
        rest, err = p.communicate(timeout=120)
        console += rest
        c.close()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = err.decode()
    assert p.returncode == 0, err
    assert b"INIT: vcon: ping from the host" in console, bytes(console)[-2000:]
    assert not os.path.exists(sock)  # the listener is gone: the replay has nothing to connect to
    st, out, rerr = run(["dump", rr, "--kind", "UART_RX"])
    assert 'port 1 "ping from the host\\n"' in out.decode(), out
    st, out, rerr = run(["info", rr])
    assert "console.port.1 = c0" in out.decode()
    assert "virtio-serial-device" in out.decode()

    # replay: no socket, same console byte for byte, same digest
    st, out, rerr = run(["replay", rr, "--digest"])
    assert st == 0, rerr
    assert out == bytes(console)
    assert digest_of(rerr) == digest_of(err)
    assert not os.path.exists(sock)
    # the port's output, redirected
    outfile = tmp_path / "hvc0.txt"
    st, out2, rerr = run(["replay", rr, "--digest", "-chardev", f"file,id=c0,path={outfile}"])
    assert st == 0, rerr
    assert out2 == bytes(console) and digest_of(rerr) == digest_of(err)
    assert b"hello from hvc0" in outfile.read_bytes()
    # a replay opens no input backend
    st, _, rerr = run(["replay", rr, "-chardev", f"socket,id=c0,path={sock},server=on,wait=off"])
    assert st == 2 and "not in a replay" in rerr, rerr
    st, _, rerr = run(["replay", rr, "-chardev", f"file,id=zz,path={outfile}"])
    assert st == 2 and "no port on a chardev of that id (it has: c0)" in rerr, rerr


def test_two_ports_each_on_its_file(guest, tmp_path):
    f0, f1 = tmp_path / "p0.txt", tmp_path / "p1.txt"
    rr = str(tmp_path / "two.rr")
    args = vcon_args(["-chardev", f"file,id=c0,path={f0}", "-chardev", f"file,id=c1,path={f1}",
                      "-device", "virtio-serial-device",
                      "-device", "virtconsole,chardev=c0", "-device", "virtconsole,chardev=c1,name=org.rrvm.second"],
                     append=VCON + " vcontimeout=200")
    st, out, err = run(["record", "-o", rr, "--digest"] + args)
    assert st == 0, err
    assert b"INIT: vcon: no input (timeout)" in out
    assert f0.read_bytes() == b"hello from hvc0\r\n"  # the first virtconsole is hvc0 (a tty: ONLCR)
    assert f1.read_bytes() == b""
    st, info, _ = run(["info", rr])
    assert "2 port(s), port 1 name=org.rrvm.second" in info.decode()  # guest-visible: machine config
    assert "console.port.1 = c0" in info.decode() and "console.port.2 = c1" in info.decode()
    st, rout, rerr = run(["replay", rr, "--digest", "-chardev", f"file,id=c1,path={tmp_path / 'r1.txt'}"])
    assert st == 0, rerr
    assert rout == out and digest_of(rerr) == digest_of(err)
    assert (tmp_path / "r1.txt").read_bytes() == b""


def test_serial_on_a_pipe_chardev_records_uart_input(guest, tmp_path):
    """-serial chardev:ID: the UART's output goes to PATH.out, its input
    comes from PATH.in (a FIFO), logged as UART_RX port 0; the replay shows
    the UART on stdout (its default) and needs no pipe."""
    base = str(tmp_path / "ser")
    os.mkfifo(base + ".in")
    open(base + ".out", "wb").close()
    rr = str(tmp_path / "ser.rr")
    args = linux_args(append="rdtimeout=20000 loops=0",
                      extra=["-chardev", f"pipe,id=s0,path={base}", "-serial", "chardev:s0"])
    p = subprocess.Popen([RRVM, "record", "-o", rr, "--digest"] + args, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while b"INIT: type a line:" not in open(base + ".out", "rb").read():
            assert p.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        with open(base + ".in", "wb") as w:
            w.write(b"hello uart\n")
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = err.decode()
    assert p.returncode == 0, err
    assert out == b""  # the console is on the chardev
    recorded = open(base + ".out", "rb").read()
    assert b"INIT: echo: hello uart" in recorded
    st, dump, _ = run(["dump", rr, "--kind", "UART_RX"])
    assert 'port 0 "hello uart\\n"' in dump.decode()
    os.unlink(base + ".in")
    st, rout, rerr = run(["replay", rr, "--digest"])
    assert st == 0, rerr
    assert rout == recorded and digest_of(rerr) == digest_of(err)
    # the UART's output redirected by its recorded chardev id
    redirected = tmp_path / "uart.txt"
    st, rout, rerr = run(["replay", rr, "--digest", "-chardev", f"file,id=s0,path={redirected}"])
    assert st == 0, rerr
    assert rout == b"" and redirected.read_bytes() == recorded and digest_of(rerr) == digest_of(err)


def test_tcp_server_waits_for_its_client(guest, tmp_path):
    """wait=on (QEMU's default for a server): nothing runs until a client
    connects; loopback TCP."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    p = subprocess.Popen([RRVM, "run"] + vcon_args([
        "-chardev", f"socket,id=c0,host=127.0.0.1,port={port},server=on",
        "-device", "virtio-serial-device", "-device", "virtconsole,chardev=c0"], append=VCON + " vcontimeout=30000"),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = p.stderr.readline()
        while line.startswith(b"rrvm: ") and b"waiting for a connection" not in line:
            line = p.stderr.readline()
        assert f"rrvm: chardev c0: waiting for a connection on tcp:127.0.0.1:{port}".encode() in line, line
        time.sleep(0.3)
        assert not _readable(p.stdout.fileno())  # the guest has not started: not even OpenSBI's banner
        os.set_blocking(p.stdout.fileno(), False)
        c = socket.create_connection(("127.0.0.1", port), timeout=60)
        got = b""
        while b"hello from hvc0" not in got:
            got += c.recv(4096)
        console = bytearray()
        read_until(p.stdout.fileno(), console, b"INIT: vcon: waiting")
        c.sendall(b"over tcp\n")
        os.set_blocking(p.stdout.fileno(), True)
        rest, err = p.communicate(timeout=120)
        c.close()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert b"INIT: vcon: over tcp" in bytes(console) + rest


def _readable(fd):
    import select
    return bool(select.select([fd], [], [], 0)[0])


def test_serial_on_a_file_chardev(guest, tmp_path):
    f = tmp_path / "console.txt"
    st, out, err = run(["run"] + linux_args(append="rdtimeout=0 loops=0",
                                            extra=["-chardev", f"file,id=s0,path={f}", "-serial", "chardev:s0"]))
    assert st == 0, err
    assert out == b""
    assert b"INIT: poweroff" in f.read_bytes()


def test_pty_prints_its_path_and_carries_the_port(guest, tmp_path):
    p = subprocess.Popen([RRVM, "run"] + vcon_args(["-chardev", "pty,id=c0", "-device", "virtio-serial-device",
                                                   "-device", "virtconsole,chardev=c0"],
                                                  append=VCON + " vcontimeout=30000"),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = p.stderr.readline()
        while line.startswith(b"rrvm: "):  # the images, named one per line
            line = p.stderr.readline()
        m = re.match(rb"char device redirected to (/dev/pts/\d+) \(label c0\)\n", line)
        assert m, line
        fd = os.open(m.group(1), os.O_RDWR | os.O_NOCTTY)
        got = b""
        deadline = time.monotonic() + 60
        while b"hello from hvc0" not in got:
            assert time.monotonic() < deadline, got
            got += os.read(fd, 4096)
        os.set_blocking(p.stdout.fileno(), False)
        console = bytearray()
        read_until(p.stdout.fileno(), console, b"INIT: vcon: waiting")
        os.write(fd, b"via the pty\n")
        os.set_blocking(p.stdout.fileno(), True)
        rest, err = p.communicate(timeout=120)
        os.close(fd)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0
    assert b"INIT: vcon: via the pty" in bytes(console) + rest


def test_chardev_options_refused_with_reasons(guest, tmp_path):
    sock = str(tmp_path / "s")
    dev = ["-device", "virtio-serial-device", "-device", "virtconsole,chardev=c0"]
    cases = [
        (["-chardev", "socket,id=c0,host=192.0.2.1,port=4444,server=on,wait=off"] + dev,
         "not a loopback address; anyone there can type into the guest's console (use --allow-remote-chardev"),
        (["-chardev", "file,id=c1,path=/dev/null"] + dev, "no -chardev with id=c0"),
        (["-chardev", "file,id=c0,path=/dev/null", "-serial", "chardev:nope"], "no -chardev with id=nope"),
        (["-chardev", f"socket,id=c0,path={sock},bogus=1"], "unknown property 'bogus'"),
        (["-chardev", "socket,id=c0,path=x,telnet=on"], "telnet is not supported"),
        (["-chardev", "vc,id=c0"], "unknown backend (rrvm has: null, stdio, file, pipe, socket, pty)"),
        (["-chardev", "file,id=c0"], "needs path=PATH"),
        (["-chardev", "null"], "needs id=ID"),
        (["-chardev", "null,id=0x"], "starting with a letter"),
        (["-chardev", "null,id=a", "-chardev", "null,id=a"], "duplicate id 'a'"),
        (["-chardev", "null,id=c0,mux=on"], "mux is not supported"),
        (["-chardev", "socket,id=c0,path=a,host=127.0.0.1,port=1"], "not both"),
        (["-device", "virtconsole,chardev=c0"], "needs a -device virtio-serial-device before it"),
        (["-device", "virtio-serial-device"], "no port"),
        (["-chardev", "null,id=c0", "-device", "virtio-serial-device", "-device", "virtconsole,chardev=c0,foo=1"],
         "unknown property 'foo'"),
        (["-chardev", "null,id=c0", "-device", "virtio-serial-device", "-device", "virtconsole,chardev=c0",
          "-device", "virtconsole,chardev=c0"], "already in use"),
        (["-device", "virtio-serial-device,max_ports=4"], "unknown property 'max_ports'"),
        (["-chardev", "null,id=c0", "-device", "virtio-serial-device", "-device", "virtconsole,chardev=c0,name=a/b"],
         "printable characters only"),
        (["-chardev", "stdio,id=c0"] + dev, "stdio is taken by more than one console"),
    ]
    for extra, want in cases:
        st, out, err = run(["run"] + linux_args(append="rdtimeout=0 loops=0", extra=extra))
        last = err.strip().splitlines()[-1]  # images may be named before a session-time refusal
        assert st == 2 and want in last and last.startswith("rrvm: "), (extra, err)
    st, _, err = run(["replay", str(tmp_path / "x.rr"), "-serial", "chardev:c0"])
    assert st == 2 and "redirect the UART's output with -chardev" in err


def test_stdio_chardev_takes_the_terminal_when_the_uart_is_elsewhere(guest, tmp_path):
    """-serial none and a virtconsole on chardev stdio: the port's output is
    stdout (the UART says nothing: -serial none)."""
    st, out, err = run(["run"] + vcon_args(["-serial", "none", "-chardev", "stdio,id=c0",
                                            "-device", "virtio-serial-device", "-device", "virtconsole,chardev=c0"],
                                           append=VCON + " vcontimeout=300"))
    assert st == 0, err
    assert out.startswith(b"hello from hvc0")
