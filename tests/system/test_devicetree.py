"""The generated device tree describes exactly what the board has
(--dump-dtb, checked with dtc), and a user-supplied -dtb boots too."""
import subprocess

from conftest import linux_args, run


def dts_of(path):
    return subprocess.run(["dtc", "-I", "dtb", "-O", "dts", str(path)], check=True,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode()


def test_dump_dtb_describes_the_board(guest, tmp_path):
    dtb = tmp_path / "virt.dtb"
    rc, out, err = run(["run", "--dump-dtb", str(dtb)] + linux_args(smp=4, append="rdtimeout=0 loops=1"),
                       timeout=300)
    assert rc == 0, err[-2000:]
    dts = dts_of(dtb)
    assert dts.count('device_type = "cpu"') == 4
    assert 'riscv,isa = "rv64imafdc' in dts and "mmu-type" in dts
    assert "memory@80000000" in dts and "0x10000000" in dts  # 256 MiB
    assert 'bootargs = "console=ttyS0 rdtimeout=0 loops=1"' in dts
    assert "linux,initrd-start" in dts and "rng-seed" in dts
    assert 'stdout-path = "/soc/serial@10000000"' in dts
    for node in ("clint@2000000", "plic@c000000", "serial@10000000", "rtc@101000", "test@100000"):
        assert node in dts, node
    assert dts.count('compatible = "virtio,mmio"') == 8
    assert "syscon-poweroff" in dts and "syscon-reboot" in dts


def test_user_dtb_boots(guest, tmp_path):
    dtb = tmp_path / "dumped.dtb"
    rc, out, err = run(["run", "--dump-dtb", str(dtb), "-seed", "3"] + linux_args(smp=2, append="rdtimeout=0"),
                       timeout=300)
    assert rc == 0, err[-2000:]
    rc2, out2, err2 = run(["run", "-dtb", str(dtb), "-seed", "3"] + linux_args(smp=2, append="rdtimeout=0"),
                          timeout=300)
    assert rc2 == 0, err2[-2000:]
    assert b"INIT: cpus=2" in out2 and b"INIT: poweroff" in out2
