"""Networking: virtio-net-device with -netdev user (libslirp), socket and
tap backends, through the network gate (src/replay/gate_net.c). The guest (net=1) fetches a page from an HTTP server the test runs
on 127.0.0.1 (seen from the guest as 10.0.2.2) and answers one TCP line
through hostfwd; a replay reproduces the console with no server and no
network, the --net-dump captures of record and replay are the same file,
and a guest that sends something else at replay is reported."""
import http.server
import os
import re
import socket
import subprocess
import threading
import time

import pytest

from conftest import RRVM, digest_of, linux_args, run

PAGE = b"<html>rrvm fetched this over slirp</html>\n" * 50


def fnv1a(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & (2**64 - 1)
    return "%016x" % h


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args):
        pass


class HttpServer:
    def __init__(self):
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.running = True

    def stop(self):
        if self.running:
            self.srv.shutdown()
            self.srv.server_close()
            self.running = False


@pytest.fixture
def http_server():
    srv = HttpServer()
    yield srv
    srv.stop()


def tcpdump(pcap):
    p = subprocess.run(["tcpdump", "-n", "-r", pcap], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout


def record_with_echo(rr, pcap, http_port, smp=2, extra=(), record_opts=()):
    """Record the guest fetching the page and echoing one line sent to it
    through hostfwd; returns (status, console bytes, stderr, echo reply)."""
    fwd = free_port()
    args = ["record", "-o", rr, "--digest", "--net-dump", pcap] + list(record_opts) + linux_args(
        smp=smp, seed=None, append="rdtimeout=0 loops=0 net=1 httpport=%d echoport=7777" % http_port,
        extra=["-netdev", "user,id=n0,hostfwd=tcp:127.0.0.1:%d-:7777" % fwd,
               "-device", "virtio-net-device,netdev=n0"] + list(extra))
    proc = subprocess.Popen([RRVM] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    out = b""
    reply = b""
    deadline = time.monotonic() + 120
    while b"echo listening" not in out:
        chunk = proc.stdout.read1(4096)
        assert chunk, (out, proc.stderr.read())
        out += chunk
        assert time.monotonic() < deadline
    with socket.create_connection(("127.0.0.1", fwd), timeout=30) as c:
        c.sendall(b"ping through hostfwd\n")
        while not reply.endswith(b"\n"):
            data = c.recv(256)
            if not data:
                break
            reply += data
    rest, err = proc.communicate(timeout=120)
    return proc.returncode, out + rest, err.decode(errors="replace"), reply


def test_http_and_hostfwd_replay_without_network(guest, tmp_path, http_server):
    rr, pcap = str(tmp_path / "net.rr"), str(tmp_path / "rec.pcap")
    st, out, err, reply = record_with_echo(rr, pcap, http_server.port)
    assert st == 0, err
    assert ("INIT: net: http bytes=%d fnv=%s" % (len(PAGE), fnv1a(PAGE))).encode() in out, out
    assert reply == b"echo: ping through hostfwd\n"
    assert b"INIT: net: echoed ping through hostfwd" in out
    recorded = digest_of(err)
    # both servers are gone (the guest's echo server with the guest): the
    # replay needs neither, nor any network
    http_server.stop()
    rpcap = str(tmp_path / "replay.pcap")
    st, rout, rerr = run(["replay", rr, "--digest", "--net-dump", rpcap])
    assert st == 0, rerr
    assert rout == out
    assert digest_of(rerr) == recorded
    with open(pcap, "rb") as a, open(rpcap, "rb") as b:
        assert a.read() == b.read()
    frames = tcpdump(rpcap)
    assert "10.0.2.15" in frames and ".%d:" % http_server.port in frames, frames
    assert "7777" in frames
    st, info, _ = run(["info", rr])
    m = re.search(r"network device 0:    in (\d+) frames, (\d+) bytes \(logged\); out (\d+) frames", info.decode())
    assert m and int(m.group(1)) > 5 and int(m.group(2)) > len(PAGE) and int(m.group(3)) > 5, info


def test_guest_sending_something_else_is_reported(guest, tmp_path, http_server):
    rr, pcap = str(tmp_path / "net.rr"), str(tmp_path / "rec.pcap")
    st, out, err, _ = record_with_echo(rr, pcap, http_server.port, smp=1,
                                       record_opts=["--checkpoint-interval", "100000"])
    assert st == 0, err
    dump = run(["dump", rr])[1].decode()
    first_rx = int(re.search(r"^\s*(\d+) .* NET_RX", dump, re.M).group(1))
    st, _, rerr = run(["replay", rr, "--test-perturb", "%d:net-tx:0" % first_rx])
    assert st == 3, rerr
    # found at the next checkpoint, which names the card among what differs
    m = re.search(r"replay diverged: checkpoint at icount (\d+) differs", rerr)
    assert m and first_rx < int(m.group(1)) <= first_rx + 200000, rerr
    assert "virtio-net-device@10008000" in rerr, rerr


def test_socket_backend_carries_frames(guest, tmp_path):
    """-netdev socket,udp=: every frame the guest sends arrives as one
    datagram; the guest's ARP request for 10.0.2.2 is the first."""
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(60)
    local = free_port()
    args = ["run"] + linux_args(append="rdtimeout=0 loops=0 net=1 httpport=80 nettimeout=2000", seed=1,
                                extra=["-netdev", "socket,id=s0,udp=127.0.0.1:%d,localaddr=127.0.0.1:%d"
                                       % (peer.getsockname()[1], local),
                                       "-device", "virtio-net-device,netdev=s0,mac=52:54:00:aa:bb:cc"])
    proc = subprocess.Popen([RRVM] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        frame, _ = peer.recvfrom(2048)
        assert frame[6:12] == bytes.fromhex("525400aabbcc")   # source MAC
        assert frame[12:14] == b"\x08\x06"                      # ARP
        assert frame[38:42] == bytes([10, 0, 2, 2])             # who has 10.0.2.2
    finally:
        proc.kill()
        proc.communicate()
        peer.close()


def test_tap_backend_where_the_host_allows_it(guest, tmp_path):
    """-netdev tap needs CAP_NET_ADMIN (or a tap made for this user): skipped,
    with the reason, where the host refuses; else the guest's frames go out
    through it and the recording replays."""
    rr = str(tmp_path / "tap.rr")
    st, out, err = run(["record", "-o", rr, "--digest"] + linux_args(
        append="rdtimeout=0 loops=0 net=1 httpport=80 nettimeout=2000", seed=1,
        extra=["-netdev", "tap,id=t0,ifname=rrvmtap%d,script=no,downscript=no" % (os.getpid() % 1000),
               "-device", "virtio-net-device,netdev=t0"]))
    if st != 0 and "-netdev tap: " in err:
        pytest.skip("this host does not allow a tap interface: " + err.strip())
    assert st == 0, err
    info = run(["info", rr])[1].decode()
    m = re.search(r"out (\d+) frames", info)
    assert m and int(m.group(1)) > 0, info
    st, rout, rerr = run(["replay", rr, "--digest"])
    assert st == 0 and rout == out and digest_of(rerr) == digest_of(err), rerr


@pytest.mark.parametrize("extra,want", [
    (["-netdev", "user"], "needs id=ID"),
    (["-netdev", "bogus,id=n0", "-device", "virtio-net-device,netdev=n0"], "unknown backend"),
    (["-netdev", "user,id=n0,hostfwd=tcp:0.0.0.0:2222-:22", "-device", "virtio-net-device,netdev=n0"],
     "--allow-remote-net"),
    (["-netdev", "user,id=n0,hostfwd=tcp:2222", "-device", "virtio-net-device,netdev=n0"], "hostfwd="),
    (["-device", "virtio-net-device"], "no -netdev"),
    (["-netdev", "user,id=n0"], "no network card uses it"),
    (["-nic", "user,mac=01:00:00:00:00:01"], "not a unicast MAC"),
    (["-nic", "user,model=e1000"], "model=virtio-net-device"),
    (["-net", "user"], "legacy -net"),
    (["-netdev", "socket,id=s0,listen=0.0.0.0:5555", "-device", "virtio-net-device,netdev=s0"], "loopback"),
    (["-netdev", "user,id=n0,frob=1", "-device", "virtio-net-device,netdev=n0"], "unknown option 'frob'"),
    (["-netdev", "tap,id=t0,ifname=tap0,script=/etc/qemu-ifup", "-device", "virtio-net-device,netdev=t0"],
     "runs no scripts"),
    (["-netdev", "tap,id=t0", "-device", "virtio-net-device,netdev=t0"], "needs ifname="),
])
def test_bad_network_options(guest, extra, want):
    st, out, err = run(["run"] + linux_args(extra=extra))
    assert st == 2 and want in err, (extra, err)
    assert len(err.strip().splitlines()) == 1, err
