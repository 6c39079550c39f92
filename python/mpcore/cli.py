"""The ``mpcore`` command."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from . import formats


def _cmd_formats(args: argparse.Namespace) -> int:
    print(f"{'name':<10} {'p':>3} {'emin':>6} {'emax':>5} {'bits':>4} {'u':>10} {'max finite':>12} overflow")
    for name in formats.names():
        f = formats.get(name)
        print(f"{name:<10} {f.precision:>3} {f.emin:>6} {f.emax:>5} {f.bits:>4} {f.u:>10.3e} "
              f"{f.max_finite:>12.5g} {f.overflow}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from .demo import print_demo

    print_demo(args.n, args.seed)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mpcore",
        description="Simulated low-precision accumulation for neural-network inference.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="run the built-in demo (offline)",
                         description="Accumulate one layer-sized dot product in every format and print the errors.")
    run.add_argument("--n", type=int, default=784, help="length of the dot product (default 784)")
    run.add_argument("--seed", type=int, default=0, help="seed of the demo vectors (default 0)")
    run.set_defaults(func=_cmd_run)
    fmts = sub.add_parser("formats", help="list the built-in number formats")
    fmts.set_defaults(func=_cmd_formats)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if args.command == "run" and args.n < 1:
        parser.error("--n must be positive")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
