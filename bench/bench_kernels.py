"""CPU kernel benchmark: terms per second against NumPy and the NumPy + ml_dtypes loop.

    python bench/bench_kernels.py [--quick] [--out bench/results/kernels.json]

Ratios are measured in one run on the same machine (the instruction-set rows and the
selective layer in interleaved rounds, ratios as medians of same-round ratios); absolute
times on shared machines are noisy. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE slow NumPy's
BLAS here, so the script re-runs itself without them (for this benchmark only).

The "what users write today" loop (double-rounded: a float32 sum, then a cast):
    s = zeros((batch, out), dtype)
    for j in range(n):
        s = (s.astype(float32) + outer(x[:, j], w[:, j])).astype(dtype)
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import sys
import time

if os.environ.get("OPENBLAS_CORETYPE") or os.environ.get("OPENBLAS_L2_SIZE"):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

import ml_dtypes  # noqa: E402
import numpy as np  # noqa: E402

import mpcore  # noqa: E402
from mpcore import _core  # noqa: E402

DTYPES = {"fp16": np.float16, "bf16": ml_dtypes.bfloat16, "fp8_e4m3": ml_dtypes.float8_e4m3fn}


def best_time(fn, repeat=5, min_time=0.3):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        runs = 0
        while True:
            fn()
            runs += 1
            elapsed = time.perf_counter() - t0
            if elapsed > min_time:
                break
        best = min(best, elapsed / runs)
    return best


def user_loop(x, w, dtype):
    s = np.zeros((x.shape[0], w.shape[0]), dtype=dtype)
    for j in range(x.shape[1]):
        s = (s.astype(np.float32) + np.outer(x[:, j], w[:, j])).astype(dtype)
    return s


def cpu_info() -> dict:
    model, flags = platform.processor(), []
    try:
        text = pathlib.Path("/proc/cpuinfo").read_text()
        for line in text.splitlines():
            if line.startswith("model name") and ":" in line:
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and ":" in line:
                flags = sorted({f for f in line.split(":", 1)[1].split() if f.startswith(("avx2", "avx512", "fma"))})
                break
    except OSError:
        pass
    return {"model": model, "isa_flags": flags, "machine": platform.machine()}


def interleaved_times(fns: dict, rounds: int, min_time: float) -> dict:
    """Seconds per call of each function in each round, timed in rounds that run every
    function once, each round starting one later: on a shared machine a load that comes and
    goes then meets every function alike, where timing one function after the other gives
    whichever ran in a quiet moment the advantage. Neighbours in fns run back to back."""
    keys = list(fns)
    times = {k: [0.0] * rounds for k in keys}
    for r in range(rounds):
        for k in keys[r % len(keys):] + keys[: r % len(keys)]:
            times[k][r] = best_time(fns[k], repeat=1, min_time=min_time)
    return times


def speed_ratio(seconds: list, other_seconds: list) -> float:
    """How much faster the first is than the second: the median over rounds of their ratio
    in the same round (interleaved_times), steadier on a shared machine than best against best."""
    return float(np.median([o / t for t, o in zip(seconds, other_seconds)]))


def isa_rows(rng, quick: bool, rounds: int = 8) -> list:
    """256 x 784 -> 784, 1 thread: auto against every forced instruction set, each (format,
    inputs) group's modes, orders and settings interleaved (interleaved_times; rates from each
    one's best round, noise = its slowest round over its best)."""
    isas = ["portable", "avx2", "avx512"]
    isas = isas[: isas.index(_core.detected_simd_isa()) + 1]
    settings = isas + ["auto"]  # auto right after the widest (auto's usual pick): paired rounds
    x32 = rng.random((256, 784), dtype=np.float32)
    w32 = (rng.standard_normal((784, 784)) / 28).astype(np.float32)
    modes = [(rounding, order) for rounding in ("rne", "sr") for order in ("sequential", "pairwise")]
    rows = []
    for fmt in (["fp16"] if quick else list(DTYPES)):
        stored = (mpcore.round(x32, fmt).astype(np.float32), mpcore.round(w32, fmt).astype(np.float32))
        for inputs, (x, w) in (("float32", (x32, w32)), ("stored", stored)):
            def call(rounding, order, setting):
                def fn():
                    _core.set_simd_isa(setting)
                    mpcore.matmul(x, w, acc=fmt, rounding=rounding, order=order, seed=1, threads=1)
                return fn
            fns = {(rounding, order, setting): call(rounding, order, setting)
                   for rounding, order in modes for setting in settings}
            times = interleaved_times(fns, rounds, min_time=0.1)
            _core.set_simd_isa("auto")
            for rounding, order in modes:
                t = {setting: times[rounding, order, setting] for setting in settings}
                rates = {setting: x.shape[0] * 784 * 784 / min(t[setting]) for setting in settings}
                kernel = mpcore.kernel(x, w, acc=fmt, rounding=rounding, order=order)
                fastest = max(isas, key=rates.get)
                rows.append({"format": fmt, "inputs": inputs, "rounding": rounding, "order": order,
                             "kernel": kernel["path"], "auto_isa": kernel["isa"], "rates": rates,
                             "best_forced": fastest, "auto_over_best": speed_ratio(t["auto"], t[fastest]),
                             "auto_over_best_of_rounds": rates["auto"] / rates[fastest],
                             "noise": max(max(v) / min(v) for v in t.values()), "seconds_by_round": t})
    return rows


def targets(isa: list, rows: list, selective: dict, matvec: dict) -> list:
    """The speed issue's targets, each with what was measured here (None: not measurable)."""
    out = []

    def add(name, value, goal, ok):
        out.append({"target": name, "measured": value, "goal": goal, "met": ok})

    def auto(r):
        return r["seconds_by_round"]["auto"]

    add("auto >= 0.95x best forced ISA (worst row)", min(r["auto_over_best"] for r in isa), 0.95,
        min(r["auto_over_best"] for r in isa) >= 0.95)
    if all("avx512" in r["rates"] and "avx2" in r["rates"] for r in isa):
        ratio = min(speed_ratio(r["seconds_by_round"]["avx512"], r["seconds_by_round"]["avx2"]) for r in isa)
        add("avx512 >= 1.2x avx2 (worst row)", ratio, 1.2, ratio >= 1.2)
    for inputs, goal in (("float32", 1.2e9), ("stored", 4e9)):
        rates = [r["rates"]["auto"] for r in isa if r["inputs"] == inputs and r["rounding"] == "rne"
                 and r["order"] == "sequential"]
        add(f"{inputs} inputs, rne sequential, per core (worst format)", min(rates), goal, min(rates) >= goal)
    sr = min(speed_ratio(auto(r), auto(q)) for r in isa for q in isa
             if r["rounding"] == "sr" and q["rounding"] == "rne" and
             (r["format"], r["inputs"], r["order"]) == (q["format"], q["inputs"], q["order"]))
    add("sr >= 0.5x rne (worst row)", sr, 0.5, sr >= 0.5)
    pw = min(speed_ratio(auto(r), auto(q)) for r in isa for q in isa
             if r["order"] == "pairwise" and q["order"] == "sequential" and
             (r["format"], r["inputs"], r["rounding"]) == (q["format"], q["inputs"], q["rounding"]))
    add("pairwise >= 0.7x sequential (worst row)", pw, 0.7, pw >= 0.7)
    add("selective at ~10% recomputed <= 1.2x uniform low", selective["ratio_to_uniform_low"], 1.2,
        selective["ratio_to_uniform_low"] <= 1.2)
    add("batch 1, 4096x4096, stored, prepared, per core", matvec["prepared_terms_per_s"], 1e9,
        matvec["prepared_terms_per_s"] >= 1e9)
    return out


def matmul_rows(rng, quick: bool) -> list:
    """terms/s of matmul per shape, format, inputs and configuration, with NumPy and the user loop."""
    rows = []
    for batch, n, out in [(256, 784, 784), (1, 784, 784), (1, 4096, 4096)]:
        x32 = rng.random((batch, n), dtype=np.float32)
        w32 = (rng.standard_normal((out, n)) / np.sqrt(n)).astype(np.float32)
        terms = batch * n * out
        t_np = best_time(lambda: x32 @ w32.T)
        for fmt in DTYPES:
            # "float32": arbitrary float32 inputs (24-bit products need the binary64 container);
            # "stored": inputs stored in the accumulation format, as in a low-precision layer
            # (products exact in binary32: the binary32 container, when the mode allows it).
            stored = (mpcore.round(x32, fmt).astype(np.float32), mpcore.round(w32, fmt).astype(np.float32))
            for inputs, (x, w) in (("float32", (x32, w32)), ("stored", stored)):
                configs = [("rne", "sequential", 1), ("rne", "sequential", 2)]
                if not quick and batch == 256:
                    configs += [("sr", "sequential", 2), ("rne", "pairwise", 2), ("rne", "blocked", 2)]
                sub = x[: min(batch, 64)]
                t_loop = best_time(lambda: user_loop(sub, w, DTYPES[fmt]), repeat=1, min_time=0.5)
                loop_terms = sub.shape[0] * n * out / t_loop
                for rounding, order, threads in configs:
                    t = best_time(lambda: mpcore.matmul(x, w, acc=fmt, rounding=rounding, order=order, seed=1,
                                                        threads=threads))
                    kernel = _core.kernel_path(x, w, mpcore.MatmulOptions(acc=fmt, rounding=rounding, order=order))
                    rows.append({"shape": f"{batch}x{n}->{out}", "format": fmt, "inputs": inputs,
                                 "rounding": rounding, "order": order, "threads": threads, "kernel": kernel,
                                 "terms_per_s": terms / t, "numpy_f32_terms_per_s": terms / t_np,
                                 "ratio_to_numpy_f32": t / t_np, "user_loop_terms_per_s": loop_terms,
                                 "speedup_vs_user_loop": (terms / t) / loop_terms})
    return rows


def selective_timing(rng):
    """The selective layer with about 10 % recomputed, "norm" estimator, against uniform low."""
    x = rng.random((256, 784), dtype=np.float32)
    w = (rng.standard_normal((784, 784)) / 28).astype(np.float32)
    probe = mpcore.selective_linear(x, w, low="fp8_e4m3", high="fp16", tau=np.inf, estimator="norm", bounds=False)
    tau = float(np.quantile(probe.kappa * mpcore.formats.fp8_e4m3.u, 0.9))
    sel = {}
    t = interleaved_times({"selective": lambda: sel.update(r=mpcore.selective_linear(
        x, w, low="fp8_e4m3", high="fp16", tau=tau, estimator="norm", bounds=False)),
        "low": lambda: mpcore.matmul(x, w, acc="fp8_e4m3")}, rounds=8, min_time=0.3)
    r = sel["r"]
    return {"fraction_high": r.fraction_high, "seconds": min(t["selective"]), "uniform_low_seconds": min(t["low"]),
            "ratio_to_uniform_low": speed_ratio(t["low"], t["selective"]), "split": r.seconds}


def matvec_timing(rng):
    """Batch 1 (memory-bound): W packed once (PreparedLinear) against packing per call, 1 thread."""
    w4 = mpcore.round(rng.standard_normal((4096, 4096), dtype=np.float32), "fp16").astype(np.float32)
    x4 = mpcore.round(rng.random((1, 4096), dtype=np.float32), "fp16").astype(np.float32)
    layer = mpcore.PreparedLinear(w4)
    return {"arrays_terms_per_s": 4096 * 4096 / best_time(lambda: mpcore.matmul(x4, w4, acc="fp16", threads=1)),
            "prepared_terms_per_s": 4096 * 4096 / best_time(lambda: mpcore.matmul(x4, layer, acc="fp16",
                                                                                   threads=1))}


def report(info, rows, selective, matvec, isa, goals) -> None:
    print(f"mpcore CPU kernels: {info}")
    print(f"{'shape':<16} {'format':<9} {'inputs':<8} {'mode':<4} {'order':<10} {'thr':>3} {'kernel':<8} "
          f"{'terms/s':>10} {'/numpy f32':>10} {'x user loop':>11}")
    for row in rows:
        print(f"{row['shape']:<16} {row['format']:<9} {row['inputs']:<8} {row['rounding']:<4} {row['order']:<10} "
              f"{row['threads']:>3} {row['kernel']:<8} {row['terms_per_s']:>10.3e} "
              f"{row['ratio_to_numpy_f32']:>9.1f}x {row['speedup_vs_user_loop']:>10.1f}x")
    print(f"selective fp8_e4m3/fp16, norm estimator, {selective['fraction_high']:.1%} recomputed: "
          f"{selective['ratio_to_uniform_low']:.2f}x uniform fp8_e4m3; split {selective['split']}")
    print(f"batch 1, 4096x4096, stored fp16, 1 thread: arrays {matvec['arrays_terms_per_s']:.2e}, "
          f"PreparedLinear {matvec['prepared_terms_per_s']:.2e} terms/s")
    print("\n256x784->784, 1 thread, terms/s by instruction set (auto = what dispatch picks):")
    for row in isa:
        rates = "  ".join(f"{k} {v:.2e}" for k, v in row["rates"].items())
        print(f"{row['format']:<9} {row['inputs']:<8} {row['rounding']:<4} {row['order']:<10} {row['kernel']:<8} "
              f"{rates}  auto/best {row['auto_over_best']:.2f} paired "
              f"({row['auto_over_best_of_rounds']:.2f} best rounds)  noise {row['noise']:.2f}")
    print("\ntargets:")
    for g in goals:
        print(f"  [{'met' if g['met'] else 'MISSED'}] {g['target']}: {g['measured']:.3g} (goal {g['goal']:g})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer configurations")
    ap.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results" / "kernels.json"))
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    rows = matmul_rows(rng, args.quick)
    selective = selective_timing(rng)
    matvec = matvec_timing(rng)
    isa = isa_rows(rng, args.quick)
    goals = targets(isa, rows, selective, matvec)
    info = {**cpu_info(), "detected_isa": _core.detected_simd_isa(), "setting": _core.simd_isa(),
            "threads": _core.default_threads(), "numpy": np.__version__, "dispatch": _core.dispatch_report()}
    report(info, rows, selective, matvec, isa, goals)
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"info": info, "rows": rows, "selective": selective, "matvec": matvec,
                               "isa_rows": isa, "targets": goals}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
