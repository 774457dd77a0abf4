"""The command line as a QEMU and rr user types it (src/cli/main.c,
args_devices.c): per-command help,
--version, usage errors (one `rrvm:` line, exit status 2), QEMU habits that
mean the same here or are refused with the reason, -no-reboot, and the
recording's start/end lines."""
import os
import re
import subprocess

import pytest

from conftest import GUEST_TESTS, ROOT, RRVM, run

MIX = os.path.join(GUEST_TESTS, "mix.elf")
BARE = ["-bios", "none", "-kernel", MIX]


def usage_error(args, *needles, env=None):
    rc, out, err = run(args, timeout=60, env=env)
    assert rc == 2, err
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("rrvm: "), err
    for n in needles:
        assert n in err, f"expected '{n}' in: {err}"
    return err


def test_version():
    rc, out, err = run(["--version"])
    assert rc == 0 and out.decode().startswith("rrvm 0."), out


@pytest.mark.parametrize("cmd,wanted,unwanted", [
    ("run", ["-no-reboot", "-smp", "--digest"], ["--image-dir", "-o FILE.rr"]),
    ("record", ["-o FILE.rr", "--checkpoint-interval", "--verify=strict|lenient", "-m SIZE"], ["--image-dir"]),
    ("replay", ["--image-dir", "--on-divergence", "--quiet", "--goto", "--go-live", "recording holds the machine configuration"],
     ["-m SIZE", "-kernel"]),
    ("info", ["rrvm info [FILE.rr]"], ["-kernel"]),
])
def test_per_command_help(cmd, wanted, unwanted):
    rc, out1, err = run(["help", cmd])
    assert rc == 0, err
    rc, out2, err = run([cmd, "--help"])
    assert rc == 0, err
    assert out1 == out2
    text = out1.decode()
    assert text.startswith(f"usage: rrvm {cmd}")
    for w in wanted:
        assert w in text, (w, text)
    for u in unwanted:
        assert u not in text, (u, text)


def test_replay_usage_errors(tmp_path):
    usage_error(["replay", "a.rr", "a.rr"], "one recording at a time")
    err = usage_error(["replay", "a.rr", "--bogus"], "unknown option --bogus")
    assert "machine configuration" not in err
    usage_error(["replay", "a.rr", "-m", "1G"], "the recording holds the machine configuration")
    usage_error(["replay", "a.rr", "--image-dir", str(tmp_path / "missing")], "--image-dir", "No such file")
    empty = tmp_path / "no-recordings"
    empty.mkdir()
    usage_error(["replay"], "no recording given", str(empty), env=dict(os.environ, RRVM_DIR=str(empty)))


@pytest.mark.parametrize("value", ["0", "-5", "12x", "lots", ""])
@pytest.mark.parametrize("opt", ["--checkpoint-interval", "--checkpoint-max-interval", "--full-checkpoint-interval"])
def test_bad_checkpoint_interval(opt, value):
    usage_error(["record", "-o", "x.rr", opt, value] + BARE, opt)


def test_verify_accepts_what_info_prints(tmp_path):
    for mode in ("strict", "lenient"):
        rr = tmp_path / f"{mode}.rr"
        rc, out, err = run(["record", "-o", str(rr), f"--verify={mode}"] + BARE)
        assert rc == 0, err
        rc, info, err = run(["info", str(rr)])
        assert f"verify {mode}" in info.decode()
    usage_error(["record", "-o", "x.rr", "--verify=maybe"] + BARE, "--verify")


@pytest.mark.parametrize("size", ["1000001", "1T", "1024G", "1048576M"])
def test_ram_sizes_near_the_limit_parse_alike(size):
    # accepted by the parser: the run fails later, at the host-RAM check (or,
    # on a host with a TiB of RAM, because the kernel is missing)
    rc, out, err = run(["run", "-m", size, "-bios", "none", "-kernel", "/nonexistent/k.elf"])
    assert rc == 2 and ("more than this host's physical RAM" in err or "/nonexistent/k.elf" in err), err
    assert "not a size" not in err and "1 TiB" not in err, err


@pytest.mark.parametrize("size,needle", [("2T", "1 TiB"), ("1048577", "1 TiB"), ("512k", "1 MiB"),
                                         ("1.5G", "not a size"), ("-1", "not a size"), ("4097k", "4 KiB")])
def test_ram_sizes_refused(size, needle):
    usage_error(["run", "-m", size] + BARE, f"-m {size}", needle)


def test_plain_ram_size_is_mib():
    rc, out, err = run(["run", "-m", "64", "--dump-dtb", "/dev/null"] + BARE)
    assert rc == 0, err


@pytest.mark.parametrize("smp,needle", [
    ("4,sockets=3", "does not match"),
    ("cpus=2,maxcpus=4", "hotplug"),
    ("sockets=2,cores=8", "1 to 8"),
    ("2,dies=2", "unknown part"),
    ("cpus=0", "positive"),
])
def test_smp_topology_refused(smp, needle):
    usage_error(["run", "-smp", smp] + BARE, "-smp", needle)


def test_smp_topology_accepted():
    rc, out, err = run(["run", "-smp", "cpus=4,sockets=1,cores=2,threads=2,maxcpus=4", "-bios", "none",
                        "-kernel", os.path.join(GUEST_TESTS, "smp.elf")])
    assert rc == 0 and b"PASS" in out, err
    rc, out, err = run(["run", "-smp", "sockets=2,cores=2", "-bios", "none",
                        "-kernel", os.path.join(GUEST_TESTS, "smp.elf")])
    assert rc == 0 and b"PASS" in out, err


def test_qemu_habits_accepted():
    rc, out, err = run(["run", "-nographic", "-display", "none", "-monitor", "none", "-net", "none",
                        "-machine", "virt,aclint=off,acpi=off", "-accel", "tcg"] + BARE)
    assert rc == 0 and out.decode().strip() == "PASS mix (11 checks)", err


def test_machine_dumpdtb_property(tmp_path):
    dtb = tmp_path / "virt.dtb"
    rc, out, err = run(["run", "-M", f"virt,dumpdtb={dtb}"] + BARE)
    assert rc == 0 and dtb.read_bytes()[:4] == b"\xd0\x0d\xfe\xed", err


@pytest.mark.parametrize("args,needles", [
    (["-cpu", "rv64"], ["-cpu", "RV64GC", "exact"]),
    (["-enable-kvm"], ["-enable-kvm", "emulated and counted exactly"]),
    (["-accel", "kvm"], ["-accel kvm", "emulated and counted exactly"]),
    (["-icount", "shift=0,rr=record,rrfile=x.rr"], ["use: rrvm record -o x.rr"]),
    (["-icount", "rr=replay,rrfile=x.rr"], ["use: rrvm replay x.rr"]),
    (["-serial", "mon:file:x"], ["monitor can share only stdio"]),
    (["-monitor", "tcp:127.0.0.1:4444"], ["-monitor tcp:", "-qmp unix:PATH"]),
    (["-monitor", "stdio"], ["-monitor stdio", "-serial mon:stdio"]),
    (["-qmp", "stdio"], ["-qmp stdio", "unix:PATH"]),
    (["-s", "--stop-at", "5"], ["--stop-at", "replay_break"]),
    (["-display", "gtk"], ["no display"]),
    (["-net", "user"], ["legacy -net syntax", "-nic user"]),
    (["-machine", "virt,aia=aplic"], ["aia=aplic", "not supported"]),
    (["-machine", "virt,foo=1"], ["unknown property 'foo'"]),
    (["-machine", "sifive_u"], ["unknown machine 'sifive_u'"]),
    (["-o", "x.rr"], ["-o is for rrvm record"]),
    (["stray"], ["unexpected argument 'stray'"]),
])
def test_options_refused_with_reason(args, needles):
    usage_error(["run"] + args + BARE, *needles)


def test_unknown_command_and_option():
    usage_error(["frobnicate"], "unknown command 'frobnicate'")
    usage_error(["run", "--frobnicate"], "unknown option --frobnicate")
    usage_error(["help", "frobnicate"], "unknown command")


@pytest.fixture(scope="module")
def reboot_elf(tmp_path_factory):
    elf = tmp_path_factory.mktemp("reboot") / "reboot.elf"
    subprocess.run(["riscv64-unknown-elf-gcc", "-nostdlib", "-T", os.path.join(ROOT, "tests/guest/link.ld"),
                    "-o", str(elf), os.path.join(ROOT, "tests/system/data/reboot_loop.S")], check=True)
    return str(elf)


def test_no_reboot_ends_the_run_at_the_first_reset(reboot_elf, tmp_path):
    rc, out, err = run(["run", "-no-reboot", "-bios", "none", "-kernel", reboot_elf], timeout=60)
    assert rc == 0 and out == b"R", err
    rr = tmp_path / "r.rr"
    rc, out, err = run(["record", "-o", str(rr), "-no-reboot", "-bios", "none", "-kernel", reboot_elf], timeout=60)
    assert rc == 0 and out == b"R", err
    rc, info, _ = run(["info", str(rr)])
    assert "no-reboot = on" in info.decode()
    rc, out2, err2 = run(["replay", str(rr)], timeout=60)
    assert rc == 0 and out2 == b"R", err2
    assert "matches" in err2


def test_recording_start_and_end_lines(tmp_path):
    rr = tmp_path / "mix.rr"
    rc, out, err = run(["record", "-o", str(rr)] + BARE)
    assert rc == 0, err
    lines = err.splitlines()
    assert lines[:2] == [f"rrvm: kernel: {MIX}, {os.path.getsize(MIX)} bytes, ELF", f"rrvm: recording to {rr}"]
    end = [l for l in lines if l.startswith("rrvm: recorded ")]
    assert len(end) == 1 and end[0].endswith(f" bytes to {rr}"), err
    n_instr = int(end[0].split()[2])
    assert f"{rr.stat().st_size} bytes" in end[0] and n_instr > 1000


def test_stats_count_input_events_alike_in_record_and_replay(tmp_path):
    """Random bytes (the device tree's rng-seed) are input events in both modes."""
    rr = tmp_path / "mix.rr"
    rc, out, err = run(["record", "-o", str(rr), "--stats"] + BARE)
    assert rc == 0, err
    rec = [l for l in err.splitlines() if l.startswith("input events:")]
    rc, out, err2 = run(["replay", str(rr), "--stats"])
    assert rc == 0, err2
    rep = [l for l in err2.splitlines() if l.startswith("input events:")]
    assert rec == rep and rec[0] != "input events: 0", (err, err2)
    assert f"{rec[0].split()[-1]} events" in err


def test_images_are_described_and_a_raw_kernel_warned_about(tmp_path):
    junk = tmp_path / "notakernel"
    junk.write_bytes(b"\x13\x00\x00\x00" * 4 + b"\x73\x00\x10\x00")  # nops, ebreak
    rc, out, err = run(["run", "-bios", "none", "-kernel", str(junk), "-serial", "none"], timeout=60)
    assert f"rrvm: kernel: {junk}, 20 bytes, raw" in err
    assert "neither an ELF nor a Linux Image header" in err
    err = stderr_until(["run", "-m", "64", "-serial", "none"], "fw_dynamic.bin")
    assert "warning: no -kernel" in err and "bytes, raw" in err


def stderr_until(args, needle):
    """Start a run that goes on forever (firmware or Linux), read its stderr
    up to the line holding `needle`, then stop it."""
    p = subprocess.Popen([RRVM] + args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        for line in p.stderr:
            lines.append(line)
            if needle in line:
                break
    finally:
        p.kill()
        p.wait()
    return "".join(lines)


def test_image_formats_detected(guest):
    err = stderr_until(["run", "-serial", "none", "-kernel", os.path.join(guest, "Image"), "-initrd",
                        os.path.join(guest, "rootfs.cpio")], "initrd:")
    assert "bytes, Linux Image" in err and "bytes, cpio archive" in err, err


def test_long_append_says_why():
    err = usage_error(["run", "-append", "a" * 100000] + BARE, "100000 bytes", "limit of 16384")


@pytest.fixture(scope="module")
def linux_recording(guest, tmp_path_factory):
    from conftest import linux_args
    rr = tmp_path_factory.mktemp("linux") / "boot.rr"
    # a longer hash loop, so the replay lasts well over the 1/4 s between redraws
    rc, out, err = run(["record", "-o", str(rr)] + linux_args(append="rdtimeout=0 loops=30000000"), timeout=900)
    assert rc == 0, err[-2000:]
    return rr, out


def end_icount(rr):
    rc, out, err = run(["dump", str(rr)])
    last = [l for l in out.decode().splitlines() if "END" in l][-1]
    return int(re.search(r"\d+", last).group(0))


def test_replay_progress_line_on_a_terminal(linux_recording):
    """On a terminal, stderr shows icount / total, percent, MIPS and time
    left; Ctrl-C says where the replay stopped out of the total."""
    import pexpect
    rr, _ = linux_recording
    total = end_icount(rr)
    child = pexpect.spawn(RRVM, ["replay", str(rr), "-serial", "none"], timeout=300)
    child.expect(rf"\] (\d+) / {total} +(\d+)% +[\d.]+ MIPS +\d+:\d\d left")
    child.sendintr()
    child.expect(rf"replay interrupted by signal 2 at icount (\d+) of {total} \(")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130


def test_no_progress_line_off_a_terminal_or_quiet(linux_recording):
    import pexpect
    rr, out = linux_recording
    rc, out2, err = run(["replay", str(rr)], timeout=300)
    assert rc == 0 and out2 == out and "MIPS" not in err and "\r" not in err, err
    child = pexpect.spawn(RRVM, ["replay", str(rr), "--quiet", "-serial", "none"], timeout=300)
    text = child.read().decode()
    child.close()
    assert child.exitstatus == 0 and "MIPS" not in text and "matches" in text, text
