"""Time travel: seeking anywhere in a replay (--goto), stopping at an icount
(--stop-at), snapshots (--snapshot-out, run -loadvm, record/replay --from),
going live from a replay (--go-live -o; src/replay/session_snapshot.c) and
the trap-storm halt replayed with its exit status. Digests must not depend on the path that reached an
icount; recordings' checkpoints are verified again after every seek."""
import os
import random
import re
import subprocess

import pytest

from conftest import GUEST_TESTS, ROOT, digest_of, linux_args, run

VM_ELF = os.path.join(GUEST_TESTS, "vm.elf")
BARE = ["-seed", "1", "-rtc", "base=2026-01-01T00:00:00", "-bios", "none", "-kernel", VM_ELF]
LINUX_APPEND = "rdtimeout=0 loops=200000"


def goto_digests(stderr):
    return [(int(n), d) for n, d in re.findall(r"^icount (\d+) digest ([0-9a-f]{16})", stderr, re.M)]


def stop_at_digest(rr, n):
    rc, _, err = run(["replay", str(rr), "--stop-at", str(n), "--digest", "-serial", "none"], timeout=600)
    assert rc == 0, err[-2000:]
    return digest_of(err)


def record_linux(tmp_path, name, smp=1):
    rr = tmp_path / f"{name}.rr"
    rc, out, err = run(["record", "-o", str(rr), "--digest", "--stats"] +
                       linux_args(smp=smp, append=LINUX_APPEND, seed=1), timeout=600)
    assert rc == 0 and b"INIT: poweroff" in out, err[-2000:]
    total = int(re.search(r"^instructions: (\d+)", err, re.M).group(1))
    return rr, out, digest_of(err), total


def test_goto_linux_is_path_independent(guest, tmp_path):
    """50 visits jumping backwards and forwards across a whole Linux
    recording (default checkpoint interval): a digest is the same at every
    visit of an icount and equals a straight --stop-at replay's."""
    rr, _, final, total = record_linux(tmp_path, "lx")
    rng = random.Random(8)
    points = [rng.randrange(1, total) for _ in range(38)]
    targets = points + [rng.choice(points) for _ in range(10)] + [total, 0]
    rng.shuffle(targets)
    rc, _, err = run(["replay", str(rr), "--goto", ",".join(map(str, targets)), "-serial", "none"], timeout=900)
    assert rc == 0, err[-3000:]
    seen = goto_digests(err)
    assert [n for n, _ in seen] == targets
    by_icount = {}
    for n, d in seen:
        assert by_icount.setdefault(n, d) == d, f"icount {n}: digests differ between visits"
    assert by_icount[total] == final
    for n in rng.sample(points, 7):
        assert stop_at_digest(rr, n) == by_icount[n], f"icount {n}"
    rc, _, err = run(["replay", str(rr), "--digest", "-serial", "none"], timeout=600)
    assert rc == 0 and digest_of(err) == final, err[-2000:]


def test_goto_verifies_checkpoints_again(tmp_path):
    """A bare-metal recording with a checkpoint every 3000 instructions:
    seeking back and forth re-verifies them (a perturbed replay is caught
    after a seek too, with the divergence window)."""
    rr = tmp_path / "vm.rr"
    rc, _, err = run(["record", "-o", str(rr), "--checkpoint-interval", "3000", "--digest", "-serial", "none"] + BARE)
    assert rc == 0, err
    final = digest_of(err)
    targets = [50000, 1000, 40000, 20000, 1000, 60000, 39999, 39998]
    rc, _, err = run(["replay", str(rr), "--goto", ",".join(map(str, targets)), "-serial", "none"])
    assert rc == 0, err
    seen = dict(goto_digests(err))
    assert seen[1000] == stop_at_digest(rr, 1000) and seen[39998] == stop_at_digest(rr, 39998)
    rc, _, err = run(["replay", str(rr), "--goto", "60000,20000,70000", "-serial", "none"])
    assert rc == 2 and "ends at icount" in err
    rc, _, err = run(["replay", str(rr), "--stop-at", "99999999", "-serial", "none"])
    assert rc == 2 and "--stop-at 99999999: the recording ends" in err
    rc, _, err = run(["replay", str(rr), "--test-perturb=30500:x5", "-serial", "none"])
    assert rc == 3
    assert "state last matched at icount 30000 and differs at icount 33000" in err
    rc, _, err = run(["replay", str(rr), "--digest", "-serial", "none"])
    assert rc == 0 and digest_of(err) == final


def snapshot_round_trip(tmp_path, args, n, tag):
    snap = tmp_path / f"{tag}.snap"
    rc, _, err = run(["run"] + args + ["--stop-at", str(n), "--snapshot-out", str(snap), "--digest"], timeout=600)
    assert rc == 0 and f"snapshot at icount {n} written" in err, err[-2000:]
    rc, out, err = run(["run", "-loadvm", str(snap), "--digest"], timeout=600)
    assert rc == 0, err[-2000:]
    return out, digest_of(err)


def test_snapshot_round_trips_bare_metal(tmp_path):
    """run vs run to N + snapshot + run -loadvm: same final digest (paging test)."""
    rc, out, err = run(["run", "--digest"] + BARE)
    assert rc == 0 and b"PASS vm" in out
    rng = random.Random(3)
    for i in range(3):
        n = rng.randrange(1, 60000)
        _, d = snapshot_round_trip(tmp_path, BARE, n, f"vm{i}")
        assert d == digest_of(err), f"snapshot at {n}"


def test_snapshot_round_trips_linux_smp2(guest, tmp_path):
    args = linux_args(smp=2, append=LINUX_APPEND, seed=1)
    rc, out, err = run(["run", "--digest"] + args, timeout=600)
    assert rc == 0 and b"INIT: poweroff" in out
    rng = random.Random(5)
    for i in range(2):
        n = rng.randrange(1000000, 60000000)
        tail, d = snapshot_round_trip(tmp_path, args, n, f"lx{i}")
        assert d == digest_of(err), f"snapshot at {n}"
        assert out.endswith(tail) and b"INIT: poweroff" in tail


def test_record_from_snapshot_and_replay_from_snapshot(tmp_path):
    snap = tmp_path / "a.snap"
    rc, _, err = run(["run", "--stop-at", "30000", "--snapshot-out", str(snap), "-serial", "none"] + BARE)
    assert rc == 0, err
    rc, _, err = run(["run", "--digest", "-serial", "none"] + BARE)
    final = digest_of(err)
    g = tmp_path / "g.rr"
    rc, _, err = run(["record", "--from", str(snap), "-o", str(g), "--digest", "-serial", "none"])
    assert rc == 0 and digest_of(err) == final, err
    rc, _, err = run(["replay", str(g), "--digest", "-serial", "none"])
    assert rc == 0 and digest_of(err) == final, err
    # the snapshot moved: found next to the recording or with --snapshot-dir
    other = tmp_path / "moved"
    other.mkdir()
    os.rename(snap, other / "a.snap")
    rc, _, err = run(["replay", str(g), "-serial", "none"])
    assert rc == 2 and "which was not found" in err
    rc, _, err = run(["replay", str(g), "--snapshot-dir", str(other), "--digest", "-serial", "none"])
    assert rc == 0 and digest_of(err) == final, err
    # rrvm pack embeds the snapshot with the boot images: it replays alone
    rc, _, err = run(["pack", str(g), "--image-dir", str(other)])
    assert rc == 0, err
    rc, out, _ = run(["info", str(g)])
    assert rc == 0 and b"snapshot" in out
    os.unlink(other / "a.snap")
    rc, _, err = run(["replay", str(g), "--digest", "-serial", "none"])
    assert rc == 0 and digest_of(err) == final, err
    # replay F --from a snapshot taken while replaying F
    f = tmp_path / "f.rr"
    rc, _, err = run(["record", "-o", str(f), "--checkpoint-interval", "3000", "-serial", "none"] + BARE)
    b = tmp_path / "b.snap"
    rc, _, err = run(["replay", str(f), "--stop-at", "40000", "--snapshot-out", str(b), "-serial", "none"])
    assert rc == 0, err
    rc, _, err = run(["replay", str(f), "--from", str(b), "--digest", "-serial", "none"])
    assert rc == 0 and digest_of(err) == final and "matches" in err, err


def test_foreign_or_damaged_snapshot_refused(tmp_path):
    f = tmp_path / "f.rr"
    g = tmp_path / "g.rr"
    # two different recordings (identical ones would be the same recording)
    for rr, interval in ((f, "5000"), (g, "7000")):
        rc, _, err = run(["record", "-o", str(rr), "--checkpoint-interval", interval, "-serial", "none"] + BARE)
        assert rc == 0, err
    snap = tmp_path / "f.snap"
    rc, _, err = run(["replay", str(f), "--stop-at", "20000", "--snapshot-out", str(snap), "-serial", "none"])
    assert rc == 0, err
    rc, _, err = run(["replay", str(g), "--from", str(snap), "-serial", "none"])
    assert rc == 2 and "another recording" in err and err.startswith("rrvm: ")
    live = tmp_path / "live.snap"
    run(["run", "--stop-at", "20000", "--snapshot-out", str(live), "-serial", "none"] + BARE)
    rc, _, err = run(["replay", str(f), "--from", str(live), "-serial", "none"])
    assert rc == 2 and "live run" in err
    data = snap.read_bytes()
    bad = tmp_path / "bad.snap"
    for damaged in (data[: len(data) // 2], data[:100] + bytes([data[100] ^ 1]) + data[101:], b"junk"):
        bad.write_bytes(damaged)
        for args in (["run", "-loadvm", str(bad)], ["replay", str(f), "--from", str(bad)]):
            rc, _, err = run(args + ["-serial", "none"])
            assert rc == 2 and err.startswith("rrvm: ") and "bad.snap" in err, (args, err)
    rc, _, err = run(["run", "-loadvm", str(tmp_path / "missing.snap")])
    assert rc == 2 and "missing.snap" in err


def test_go_live_records_a_continuation(guest, tmp_path):
    """replay F to N, go live recording G: replaying G reproduces the live
    continuation byte for byte (console after N, final digest), and it is
    F's own continuation (the guest takes no input here)."""
    rr, out, final, total = record_linux(tmp_path, "f")
    n = total // 2
    g = tmp_path / "g.rr"
    rc, live_out, err = run(["replay", str(rr), "--stop-at", str(n), "--go-live", "-o", str(g), "--digest"],
                            timeout=600)
    assert rc == 0 and f"going live at icount {n}" in err, err[-2000:]
    assert live_out == out  # replayed up to N, then the same continuation live
    rc, before, err1 = run(["replay", str(rr), "--stop-at", str(n)], timeout=600)
    assert rc == 0, err1[-2000:]
    rc, rep_out, err2 = run(["replay", str(g), "--digest"], timeout=600)
    assert rc == 0, err2[-2000:]
    assert rep_out and b"INIT: poweroff" in rep_out
    assert before + rep_out == live_out and digest_of(err2) == digest_of(err) == final


def test_trap_storm_halt_replays_with_its_status(tmp_path):
    """Issue 7: record halts a trap storm with exit status 126; the replay
    reproduces the halt and the status instead of reporting a divergence."""
    elf = tmp_path / "storm.elf"
    subprocess.run(["riscv64-unknown-elf-gcc", "-nostdlib", "-T", os.path.join(ROOT, "tests/guest/link.ld"),
                    "-o", str(elf), os.path.join(ROOT, "tests/system/data/trap_storm.S")], check=True)
    rr = tmp_path / "storm.rr"
    rc, _, err = run(["record", "-o", str(rr), "-bios", "none", "-kernel", str(elf), "--digest"], timeout=60)
    assert rc == 126 and "stuck taking exceptions" in err
    rc2, _, err2 = run(["replay", str(rr), "--digest"], timeout=60)
    assert rc2 == 126, err2
    assert "stuck taking exceptions" in err2 and "matches" in err2 and digest_of(err2) == digest_of(err)


def test_goto_across_guest_resets(tmp_path):
    """Seeking across guest-requested resets (the machine is rebuilt) gives
    the digests of straight replays."""
    import signal
    elf = tmp_path / "reboot.elf"
    subprocess.run(["riscv64-unknown-elf-gcc", "-nostdlib", "-T", os.path.join(ROOT, "tests/guest/link.ld"),
                    "-o", str(elf), os.path.join(ROOT, "tests/system/data/reboot_loop.S")], check=True)
    rr = tmp_path / "reboot.rr"
    from conftest import RRVM
    p = subprocess.Popen([RRVM, "record", "-o", str(rr), "-m", "16M", "-bios", "none", "-kernel", str(elf),
                          "--checkpoint-interval", "5"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = b""
    while seen.count(b"R") < 3:  # wait for three boots, however fast the host
        chunk = os.read(p.stdout.fileno(), 1)
        assert chunk, "the guest stopped printing"
        seen += chunk
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=60)
    assert p.returncode == 0
    rc, _, err = run(["replay", str(rr), "--digest", "-serial", "none"], timeout=120)
    assert rc == 0, err
    total = int(re.search(r"at icount (\d+)", err.split("reached the end")[1]).group(1))
    assert total >= 14
    targets = [total, 3, total - 1, 8, 2, total - 3, 9, 4]
    rc, _, err = run(["replay", str(rr), "--goto", ",".join(map(str, targets)), "-serial", "none"], timeout=120)
    assert rc == 0, err
    got = goto_digests(err)
    assert [n for n, _ in got] == targets
    for n, d in got:
        assert stop_at_digest(rr, n) == d, f"icount {n}"


def test_time_travel_options_refused_cleanly(tmp_path):
    from conftest import RRVM_ASAN, no_sanitizer_report
    rr = tmp_path / "vm.rr"
    rc, _, err = run(["record", "-o", str(rr), "-serial", "none"] + BARE)
    assert rc == 0, err
    for args, msg in ((["--goto", "5,abc"], "--goto takes an instruction count"),
                      (["--stop-at", "-3"], "--stop-at takes an instruction count"),
                      (["--go-live"], "--go-live needs --stop-at"),
                      (["-o", str(tmp_path / "x.rr")], "-o is for --go-live"),
                      (["--goto", "5", "--stop-at", "9"], "does not combine"),
                      (["--checkpoint-memory", "lots", "--goto", "5"], "--checkpoint-memory lots")):
        rc, _, err = run(["replay", str(rr)] + args, binary=RRVM_ASAN)
        assert rc == 2 and msg in err and no_sanitizer_report(err), (args, err)
