"""The project's Linux guest boots on Debian's OpenSBI (fw_dynamic and
fw_jump) with 1, 2 and 4 harts, reaches its init, and powers off with
exit status 0; the same boot twice is byte-identical."""
import re

import pytest

from conftest import FW_DYNAMIC, FW_JUMP, digest_of, linux_args, run


def check_init_output(out, smp):
    text = out.decode(errors="replace")
    assert "INIT: rrvm guest init" in text, text[-3000:]
    assert f"INIT: cpus={smp}" in text, text[-3000:]
    assert re.search(r"INIT: rtc=2026-01-01 00:00:\d\d", text), text[-3000:]
    assert "INIT: checksum=" in text
    assert "INIT: poweroff" in text
    return text


@pytest.mark.parametrize("fw", [FW_DYNAMIC, FW_JUMP], ids=["fw_dynamic", "fw_jump"])
@pytest.mark.parametrize("smp", [1, 2, 4])
def test_boot(guest, fw, smp):
    rc, out, err = run(["run"] + linux_args(smp=smp, bios=fw, append="rdtimeout=0"), timeout=600)
    check_init_output(out, smp)
    assert rc == 0, err[-2000:]


def test_two_runs_identical(guest):
    args = ["run"] + linux_args(smp=2, append="rdtimeout=0", seed=1) + ["--digest"]
    rc1, out1, err1 = run(args, timeout=600)
    rc2, out2, err2 = run(args, timeout=600)
    assert rc1 == 0 and rc2 == 0, err1[-2000:] + err2[-2000:]
    check_init_output(out1, 2)
    assert out1 == out2
    assert digest_of(err1) is not None
    assert digest_of(err1) == digest_of(err2)
