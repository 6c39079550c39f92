// CUDA kernels of the simulated accumulation and of the condition estimate's numerator.
// Every output is computed by one thread with accumulator.hpp's accumulate(): the same
// code, the same order of additions and the same random streams as the CPU, hence the
// same bits. Include from .cu files only.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../matrix.hpp"
#include "../numerics/accumulator.hpp"
#include "plan.hpp"

namespace mpcore::cuda {

// Output t = r * out + i of x (batch, n) row-major and wt = W transposed, (n, out)
// row-major (adjacent i: coalesced loads); b is (out,) or null.
template <class T>
__device__ double one_output(const T* x, const T* wt, const T* b, std::size_t n, std::size_t out, std::size_t t,
                             const Accumulation& acc) {
  std::size_t r, i;
  output_of(t, out, r, i);
  const T* xr = x + r * n;
  auto term = [&](std::size_t j) { return ::mpcore::detail::unfused_mul(static_cast<double>(wt[j * out + i]), static_cast<double>(xr[j])); };
  const double bias = b ? static_cast<double>(b[i]) : 0.0;
  return accumulate(term, n, b ? &bias : nullptr, acc, t);
}

template <class T>
__global__ void matmul_kernel(const T* x, const T* wt, const T* b, std::size_t batch, std::size_t n, std::size_t out,
                              Accumulation acc, double* y) {
  const std::size_t t = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (t < batch * out) y[t] = one_output(x, wt, b, n, out, t, acc);
}

// Only the listed outputs (entries[k] = r * out + i), one thread each.
template <class T>
__global__ void entries_kernel(const T* x, const T* wt, const T* b, std::size_t n, std::size_t out,
                               const std::size_t* entries, std::size_t count, Accumulation acc, double* y) {
  const std::size_t k = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (k < count) y[entries[k]] = one_output(x, wt, b, n, out, entries[k], acc);
}

// |W||x| + |b| accumulated like the CPU estimators (RNE, sequential, in `acc`).
template <class T>
__global__ void numerator_kernel(const T* x, const T* wt, const T* b, std::size_t batch, std::size_t n,
                                 std::size_t out, Accumulation acc, double* num) {
  const std::size_t t = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (t >= batch * out) return;
  std::size_t r, i;
  output_of(t, out, r, i);
  const T* xr = x + r * n;
  auto term = [&](std::size_t j) {
    return fabs(static_cast<double>(wt[j * out + i])) * fabs(static_cast<double>(xr[j]));
  };
  const double bias = b ? fabs(static_cast<double>(b[i])) : 0.0;
  num[t] = accumulate(term, n, b ? &bias : nullptr, acc, t);
}

// dst = v in row-major order, or v transposed (dst[c * rows + r] = v(r, c)): operands that
// already live on the device (any strides) into the layouts the kernels above read.
template <class T>
__global__ void pack_kernel(MatrixView<T> v, bool transpose, T* dst) {
  const std::size_t t = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (t >= v.rows * v.cols) return;
  const std::size_t r = t / v.cols, c = t % v.cols;
  dst[transpose ? c * v.rows + r : t] = v(r, c);
}

}  // namespace mpcore::cuda
