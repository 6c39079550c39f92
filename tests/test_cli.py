import subprocess
import sys

import numpy as np
import pytest

import mpcore
from mpcore.cli import main


def test_formats_command(capsys):
    assert main(["formats"]) == 0
    out = capsys.readouterr().out
    assert "fp8_e4m3" in out and "448" in out and "saturate" in out


def test_run_command_on_the_embedded_default(tmp_path, capsys):
    assert main(["run", "--limit", "40", "--taus", "1,0.01", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "uniform fp8_e4m3" in out and "selective" in out and "784-784-128-10" in out
    assert (tmp_path / "run.csv").is_file() and (tmp_path / "run.json").is_file()


def test_sweep_command_with_files(tmp_path, capsys, rng):
    net = mpcore.MLP([mpcore.Dense(rng.standard_normal((6, 10)), np.zeros(6), "relu"),
                      mpcore.Dense(rng.standard_normal((3, 6)))], name="small")
    mpcore.models.save(net, tmp_path / "m.npz")
    np.savez(tmp_path / "d.npz", x=rng.random((20, 10)), y=rng.integers(0, 3, 20))
    rc = main(["sweep", "--model", str(tmp_path / "m.npz"), "--data", str(tmp_path / "d.npz"), "--low", "bf16",
               "--high", "fp32", "--taus", "0.1", "--estimator", "norm", "--out", str(tmp_path / "o")])
    assert rc == 0 and (tmp_path / "o" / "sweep_small.csv").is_file()
    assert "estimator norm" in capsys.readouterr().out


def test_cli_errors(tmp_path, capsys):
    assert main(["sweep", "--model", str(tmp_path / "nope.npz"), "--data", "mnist"]) == 2
    assert "model file not found" in capsys.readouterr().err
    assert main(["sweep", "--model", str(tmp_path / "nope.npz"), "--data", str(tmp_path / "x.npz")]) == 2
    for argv in (["run", "--taus", "a,b"], ["run", "--low", "fp7"], ["run", "--low", "fp32", "--high", "fp16"],
                 ["run", "--limit", "-1"], ["nonsense"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2


def test_help_and_module_entry_point():
    r = subprocess.run([sys.executable, "-m", "mpcore", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "run" in r.stdout and "sweep" in r.stdout
    r = subprocess.run([sys.executable, "-m", "mpcore", "formats"], capture_output=True, text=True)
    assert r.returncode == 0 and "bf16" in r.stdout
