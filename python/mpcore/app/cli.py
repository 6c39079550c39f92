"""The ``mpcore`` command: run (the embedded default), sweep, formats."""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import List, Optional

import numpy as np

from .. import formats
from ..selective import ESTIMATORS, FACTORS

DEFAULT_TAUS = "1,0.3,0.1,0.03,0.01,1e-3,1e-4"


def _taus(text: str) -> List[float]:
    try:
        taus = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--taus must be comma-separated numbers, got {text!r}") from None
    if not taus or any(not (t >= 0) for t in taus):
        raise argparse.ArgumentTypeError("--taus needs at least one value, all >= 0")
    return taus


def _format_name(text: str) -> str:
    try:
        return formats.get(text).name
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _write_outputs(result, out: pathlib.Path, stem: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    result.to_csv(out / f"{stem}.csv")
    result.to_json(out / f"{stem}.json")
    written = [f"{stem}.csv", f"{stem}.json"]
    try:
        from . import plot

        plot.cost_accuracy(result, out / f"{stem}.png")
        plot.kappa_histogram(result, out / f"{stem}_kappa.png")
        written += [f"{stem}.png", f"{stem}_kappa.png"]
    except ImportError as exc:
        print(f"note: {exc}; table written without plots", file=sys.stderr)
    print(f"wrote {', '.join(written)} to {out}")


def _sweep_and_report(net, x, y, args, stem: str) -> int:
    from .sweep import sweep

    client = None
    if getattr(args, "scheduler", None):
        try:
            from distributed import Client
        except ImportError:
            raise SystemExit("mpcore: --scheduler needs Dask distributed (pip install 'dask[distributed]')")
        client = Client(args.scheduler)  # the cluster's workers must have mpcore installed
        executor = client.get_executor()
    else:
        executor = ProcessPoolExecutor(args.jobs) if getattr(args, "jobs", 1) > 1 else None
    try:
        result = sweep(net, x, y, args.low, args.high, args.taus, estimator=args.estimator, factor=args.factor,
                       guard_sign=args.guard_sign, executor=executor, progress=args.progress)
    finally:
        if client is not None:
            client.close()
        elif executor is not None:
            executor.shutdown()
    print(result.table())
    _write_outputs(result, pathlib.Path(args.out), stem)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from .embedded import default_data, default_model

    net = default_model()
    x, y = default_data()
    if args.limit:
        x, y = x[: args.limit], y[: args.limit]
    print(f"{net} on {len(x)} embedded MNIST test images")
    return _sweep_and_report(net, x, y, args, "run")


def _load_data(args) -> tuple:
    from . import datasets

    if args.data == "embedded":
        from .embedded import default_data

        x, y = default_data()
    elif args.data in datasets.NAMES:
        x, y = datasets.load(args.data, args.split, root=args.data_root)
    else:
        path = pathlib.Path(args.data)
        if not path.is_file():
            raise FileNotFoundError(f"--data: {args.data!r} is neither a dataset name "
                                    f"({', '.join(datasets.NAMES)}) nor an .npz file with x and y")
        with np.load(path) as z:
            if "x" not in z or "y" not in z:
                raise ValueError(f"--data {path}: the .npz must hold arrays 'x' (N, features) and 'y' (N,)")
            x, y = z["x"].reshape(len(z["x"]), -1), z["y"]
    if args.limit:
        x, y = x[: args.limit], y[: args.limit]
    return x, y


def _cmd_sweep(args: argparse.Namespace) -> int:
    from ..networks.models import load_any

    net = load_any(args.model)
    x, y = _load_data(args)
    if x.shape[1] != net.shapes[0][0]:
        raise ValueError(f"the data has {x.shape[1]} features but the model takes {net.shapes[0][0]}")
    print(f"{net} on {len(x)} samples of {args.data}")
    return _sweep_and_report(net, x, y, args, f"sweep_{net.name}")


def _cmd_formats(args: argparse.Namespace) -> int:
    print(f"{'name':<10} {'p':>3} {'emin':>6} {'emax':>5} {'bits':>4} {'u':>10} {'max finite':>12} overflow")
    for name in formats.names():
        f = formats.get(name)
        print(f"{name:<10} {f.precision:>3} {f.emin:>6} {f.emax:>5} {f.bits:>4} {f.u:>10.3e} "
              f"{f.max_finite:>12.5g} {f.overflow}")
    return 0


def _add_sweep_options(p: argparse.ArgumentParser, out_default: str) -> None:
    p.add_argument("--low", type=_format_name, default="fp8_e4m3", help="low-precision accumulator (fp8_e4m3)")
    p.add_argument("--high", type=_format_name, default="fp16", help="high-precision accumulator (fp16)")
    p.add_argument("--taus", type=_taus, default=_taus(DEFAULT_TAUS), help=f"comma-separated taus ({DEFAULT_TAUS})")
    p.add_argument("--estimator", choices=ESTIMATORS + ("exact",), default="norm",
                   help="condition estimator (norm: O(in + out) per input, so a selective layer can cost less "
                        "than uniform high; fp32 adds an fp32 pass over every term (exact: its former name), "
                        "low one in the low format)")
    p.add_argument("--factor", choices=FACTORS, default="1", help="c(n) in the rule (1)")
    p.add_argument("--guard-sign", action="store_true", help="also recompute ReLU negatives of uncertain sign")
    p.add_argument("--limit", type=int, default=0, help="use only the first N samples")
    p.add_argument("--jobs", type=int, default=1, help="processes to spread the sweep points over (1)")
    p.add_argument("--scheduler", default=None,
                   help="a Dask distributed scheduler address (tcp://host:8786): run the sweep points on its cluster")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: on a terminal)")
    p.add_argument("--out", default=out_default, help=f"folder for the table and plots ({out_default})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mpcore",
        description="Simulated low-precision accumulation for neural-network inference: which inner products "
                    "must be recomputed in higher precision, and what that costs.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="sweep tau on the embedded MNIST network (offline)",
                         description="The main job: the embedded MNIST MLP on 1,000 embedded test images; uniform "
                                     "low/high/fp32 baselines and the selective layer at each tau; prints the "
                                     "table, writes CSV, JSON and plots.")
    _add_sweep_options(run, "mpcore-run")
    run.set_defaults(func=_cmd_run)
    sw = sub.add_parser("sweep", help="sweep tau on your model and data",
                        description="Sweep tau for a model (.npz, .onnx, .pt) on a dataset.")
    sw.add_argument("--model", required=True, help="model file: .npz (mpcore schema), .onnx, .pt/.pth")
    sw.add_argument("--data", required=True,
                    help="'mnist', 'fashion-mnist', 'embedded' (1,000 bundled MNIST test images) or an .npz with "
                         "arrays x and y")
    sw.add_argument("--split", choices=("train", "test"), default="test")
    sw.add_argument("--data-root", default=None, help="folder with the IDX files (default $MPCORE_DATA/<name>)")
    _add_sweep_options(sw, "mpcore-sweep")
    sw.set_defaults(func=_cmd_sweep)
    fm = sub.add_parser("formats", help="list the built-in number formats")
    fm.set_defaults(func=_cmd_formats)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if getattr(args, "limit", 0) < 0:
        parser.error("--limit must be >= 0")
    if getattr(args, "jobs", 1) < 1:
        parser.error("--jobs must be >= 1")
    if hasattr(args, "low"):
        if formats.get(args.low).u < formats.get(args.high).u:
            parser.error(f"--low {args.low} is more precise than --high {args.high}")
    out = getattr(args, "out", None)
    if out is not None:  # fail now, not after the whole sweep has run
        path = pathlib.Path(out)
        if path.exists() and not path.is_dir():
            parser.error(f"--out {out}: exists and is not a folder")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            parser.error(f"--out {out}: cannot create the folder ({exc.strerror})")
        if not os.access(path, os.W_OK):
            parser.error(f"--out {out}: the folder is not writable")
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"mpcore {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
