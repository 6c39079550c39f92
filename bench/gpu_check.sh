#!/usr/bin/env bash
# GPU check: build mpcore with CUDA, test CPU vs GPU bit for bit, time the kernels.
#
#   bash bench/gpu_check.sh            # on a machine with an NVIDIA GPU and nvcc
#
# 1. builds the CUDA-enabled wheel (CMAKE_CUDA_ARCHITECTURES 80;90) into a fresh venv;
# 2. runs the C++ equivalence test (every format, rounding mode and order; ladder masks)
#    and the GPU pytest cases (tests/core/test_cuda.py; tests/networks/test_torch_cuda.py, converted
#    torch models on CUDA tensors, where torch with CUDA is installed), which compare against the CPU;
# 3. times simulated accumulation on 4096-sized problems (NumPy in and out; and torch tensors
#    already on the GPU, read through DLPack) against cuBLAS through torch.matmul in fp32 and
#    fp16 (when torch with CUDA is installed) and prints a table,
#    also written to bench/results/gpu_check.txt.
# Budget: about 8 minutes on an H100/H200-class machine.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
export MPCORE_CUDA=1
python3 -m venv --system-site-packages "$work/venv"
source "$work/venv/bin/activate"
python -m pip install --quiet "scikit-build-core>=0.10" "nanobind>=2.4" numpy pytest ml_dtypes
python -m pip wheel --quiet --no-deps --no-build-isolation -Cbuild-dir="$work/build" -w "$work/dist" .
python -m pip install --quiet --no-deps --force-reinstall "$work"/dist/mpcore-*.whl

cmake -S . -B "$work/cpp" -DCMAKE_BUILD_TYPE=Release -DMPCORE_TESTS=ON -DMPCORE_CUDA=ON >/dev/null
cmake --build "$work/cpp" --parallel "$(nproc)" --target test_cuda_equivalence >/dev/null
"$work/cpp/tests/cpp/test_cuda_equivalence"
(cd "$work" && cp -r "$OLDPWD/tests" . && python -m pytest -q -p no:cacheprovider tests/core/test_cuda.py \
  tests/networks/test_torch_cuda.py)

python - <<'PY' | tee bench/results/gpu_check.txt
import time
import numpy as np
import mpcore
from mpcore import _core

def timed(fn, repeat=3):
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter(); fn(); best = min(best, time.perf_counter() - t)
    return best

n = 4096
rng = np.random.default_rng(0)
x = rng.random((n, n), dtype=np.float32)
w = (rng.standard_normal((n, n)) / 64).astype(np.float32)
rows = []
ref = {}
try:
    import torch
    xt, wt = torch.from_numpy(x).cuda(), torch.from_numpy(w).cuda()
    for name, dt in (("fp32", torch.float32), ("fp16", torch.float16)):
        a, b = xt.to(dt), wt.to(dt)
        def run():
            torch.matmul(a, b.T); torch.cuda.synchronize()
        ref[name] = timed(run)
        rows.append((f"torch.matmul {name} (cuBLAS)", ref[name]))
except Exception as exc:  # torch absent or without CUDA
    print(f"(no torch/cuBLAS reference: {exc})")
for acc in ("fp16", "bf16", "fp8_e4m3"):
    # Includes host<->device copies of x, W and the result (the Python API's cost).
    t = timed(lambda: mpcore.matmul(x, w, acc=acc, device="cuda"), repeat=2)
    rows.append((f"mpcore simulated {acc} (RNE, sequential)", t))
if "fp32" in ref:  # torch tensors already on the device (DLPack): no host copies
    options = mpcore.MatmulOptions(acc="fp16")
    def resident():
        torch.from_dlpack(_core.cuda_resident_matmul(xt, wt, None, options))
    rows.append(("mpcore simulated fp16, operands on the GPU", timed(resident, repeat=2)))
print(f"GPU check, {n}x{n} @ {n}x{n}, {_core.cuda_device_count()} device(s)")
print(f"{'kernel':<44} {'seconds':>9} {'x cuBLAS fp32':>14}")
for name, t in rows:
    ratio = f"{t / ref['fp32']:.1f}" if "fp32" in ref else "-"
    print(f"{name:<44} {t:>9.4f} {ratio:>14}")
PY
