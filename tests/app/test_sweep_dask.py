"""A sweep on a Dask distributed cluster (worker processes) gives the serial sweep's rows."""

import numpy as np
import pytest

import mpcore
from mpcore.networks.mlp import predictions

distributed = pytest.importorskip("distributed")


def test_sweep_on_a_local_dask_cluster_equals_the_serial_sweep(rng):
    dims = [20, 16, 4]
    layers = [mpcore.Dense(rng.standard_normal((m, n)) / np.sqrt(n), rng.standard_normal(m) * 0.1,
                           "relu" if k == 0 else "identity") for k, (n, m) in enumerate(zip(dims[:-1], dims[1:]))]
    net = mpcore.MLP(layers, weight_format="fp8_e4m3", name="tiny")
    x = rng.random((30, 20)).astype(np.float32)
    y = predictions(net.reference_logits(x))
    serial = mpcore.sweep(net, x, y, "fp8_e4m3", "fp16", [1, 0.1], progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = mpcore.sweep(net, x, y, "fp8_e4m3", "fp16", [1, 0.1], progress=False,
                              executor=client.get_executor())
        pids = set(client.run(lambda: __import__("os").getpid()).values())
    assert len(pids) == 2 and __import__("os").getpid() not in pids  # really other processes
    keep = ("label", "tau", "accuracy", "agreement", "fraction_high", "relative_cost", "relative_energy",
            "logits_rel_err_mean")
    assert [{k: r[k] for k in keep} for r in remote.rows] == [{k: r[k] for k in keep} for r in serial.rows]


def test_cli_takes_a_scheduler_address(capsys):
    from mpcore.app.cli import main
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        code = main(["run", "--limit", "20", "--taus", "1", "--no-progress", "--scheduler", cluster.scheduler_address,
                     "--out", str(__import__("tempfile").mkdtemp())])
    assert code == 0 and "selective" in capsys.readouterr().out
