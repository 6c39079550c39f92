import subprocess
import sys

import pytest

from mpcore.cli import main
from mpcore.demo import demo_table


def test_formats_command(capsys):
    assert main(["formats"]) == 0
    out = capsys.readouterr().out
    assert "fp8_e4m3" in out and "448" in out and "saturate" in out


def test_run_command_prints_every_format(capsys):
    assert main(["run", "--n", "64"]) == 0
    out = capsys.readouterr().out
    for name in ("fp64", "fp16", "bf16", "fp8_e4m3", "fp4_e2m1"):
        assert name in out


def test_demo_errors_grow_as_formats_narrow():
    rows = {(f, r): err for f, r, _, err in demo_table(256)}
    assert rows[("fp64", "rne")] < 1e-12 < rows[("fp32", "rtz")]
    assert rows[("fp32", "rne")] < rows[("fp16", "rne")]


def test_bad_options_exit_with_usage_error():
    with pytest.raises(SystemExit) as e:
        main(["run", "--n", "0"])
    assert e.value.code == 2
    with pytest.raises(SystemExit):
        main(["nonsense"])


def test_module_entry_point():
    r = subprocess.run([sys.executable, "-m", "mpcore", "formats"], capture_output=True, text=True)
    assert r.returncode == 0 and "bf16" in r.stdout
