import subprocess
import sys

import numpy as np
import pytest

import mpcore
from mpcore.app.cli import main


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
    mpcore.networks.models.save(net, tmp_path / "m.npz")
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


def test_progress_shows_on_a_terminal_by_default_and_no_progress_hides_it(monkeypatch):
    from mpcore.app.cli import build_parser

    assert build_parser().parse_args(["run"]).progress is None  # sweep decides: shown when stderr is a tty
    assert build_parser().parse_args(["run", "--no-progress"]).progress is False
    assert build_parser().parse_args(["run", "--progress"]).progress is True


def test_tau_printed_as_given_and_columns_explained(tmp_path, capsys):
    assert main(["run", "--limit", "20", "--taus", "0.15,1e-3", "--no-progress", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert " 0.15 " in out and " 0.001 " in out
    assert "agree:" in out and "logit err:" in out


def test_out_naming_a_file_fails_before_the_sweep(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("x")
    with pytest.raises(SystemExit):
        main(["run", "--limit", "20", "--taus", "1", "--out", str(target)])
    assert "not a folder" in capsys.readouterr().err


def test_sweep_on_embedded_data(tmp_path, capsys):
    import mpcore

    model = tmp_path / "tiny_net.npz"
    mpcore.networks.models.save(mpcore.app.embedded.default_model(), model)
    assert main(["sweep", "--model", str(model), "--data", "embedded", "--limit", "20", "--taus", "1",
                 "--no-progress", "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "sweep_mnist_relu.csv").exists()  # the stored name


def test_missing_data_error_names_the_option_and_the_source(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("MPCORE_DATA", raising=False)
    model = tmp_path / "m.npz"
    import mpcore

    mpcore.networks.models.save(mpcore.app.embedded.default_model(), model)
    assert main(["sweep", "--model", str(model), "--data", "mnist", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "MPCORE_DATA" in err and "--data-root" in err and "MNIST" in err


def test_policy_labels_say_selective_and_differ_by_estimator():
    from mpcore import Selective

    a, b = Selective("fp8_e4m3", "fp16", 0.1), Selective("fp8_e4m3", "fp16", 0.1, estimator="norm")
    assert a.label().startswith("selective") and a.label() != b.label()
