// The CUDA backend: host functions that run the kernels of kernels.cuh on the current
// device, with the CPU backend's signatures (host arrays in, host arrays out).
// Header-only; include from a .cu file compiled by nvcc with --extended-lambda,
// --expt-relaxed-constexpr and --fmad=false (no contraction: TwoSum must stay exact).
#pragma once

#include <cuda_runtime.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "../cpu/condition.hpp"
#include "../cpu/matmul.hpp"
#include "../cpu/selective.hpp"
#include "kernels.cuh"
#include "plan.hpp"

namespace mpcore::cuda {

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}

inline int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
}

template <class T>
class DeviceArray {
 public:
  explicit DeviceArray(std::size_t n) : n_(n) {
    if (n_) check(cudaMalloc(&p_, n_ * sizeof(T)), "cudaMalloc");
  }
  DeviceArray(const T* host, std::size_t n) : DeviceArray(n) { upload(host); }
  ~DeviceArray() {
    if (p_) cudaFree(p_);
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  void upload(const T* host) {
    if (n_) check(cudaMemcpy(p_, host, n_ * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy to device");
  }
  void download(T* host) const {
    if (n_) check(cudaMemcpy(host, p_, n_ * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy to host");
  }
  T* get() const { return p_; }

 private:
  T* p_ = nullptr;
  std::size_t n_;
};

// x, W^T and b as contiguous device arrays.
template <class T>
struct DeviceLayer {
  std::size_t batch, n, out;
  DeviceArray<T> x, wt, b;
  DeviceLayer(const MatrixView<T>& xv, const MatrixView<T>& wv, const VectorView<T>& bv)
      : batch(xv.rows), n(wv.cols), out(wv.rows), x(xv.rows * xv.cols), wt(wv.rows * wv.cols), b(bv.data ? bv.size : 0) {
    std::vector<T> hx(batch * n), hwt(n * out), hb(b.get() ? out : 0);
    for (std::size_t r = 0; r < batch; ++r)
      for (std::size_t j = 0; j < n; ++j) hx[r * n + j] = xv(r, j);
    for (std::size_t i = 0; i < out; ++i)
      for (std::size_t j = 0; j < n; ++j) hwt[j * out + i] = wv(i, j);
    for (std::size_t i = 0; i < hb.size(); ++i) hb[i] = bv[i];
    x.upload(hx.data());
    wt.upload(hwt.data());
    if (!hb.empty()) b.upload(hb.data());
  }
};

inline void sync(const char* what) {
  check(cudaGetLastError(), what);
  check(cudaDeviceSynchronize(), what);
}

template <class T>
void matmul(const MatrixView<T>& x, const MatrixView<T>& w, const VectorView<T>& bias, double* y,
            const MatmulOptions& o) {
  cpu::detail::check_shapes(x.cols, w.rows, w.cols, bias.data, bias.size, o);
  const std::size_t total = x.rows * w.rows;
  if (total == 0) return;
  DeviceLayer<T> L(x, w, bias);
  DeviceArray<double> dy(total);
  const Launch g = launch_for(total);
  matmul_kernel<T><<<g.blocks, g.threads>>>(L.x.get(), L.wt.get(), L.b.get(), L.batch, L.n, L.out,
                                            make_accumulation(o), dy.get());
  sync("matmul_kernel");
  dy.download(y);
}

template <class T>
LadderStats ladder_linear(const MatrixView<T>& x, const MatrixView<T>& w, const VectorView<T>& b,
                          const LadderOptions& o, const LadderOutputs& out) {
  using clock = std::chrono::steady_clock;
  const std::string bad = validate_ladder(o);
  if (!bad.empty()) throw std::invalid_argument(bad);
  if (o.formats.size() > 8) throw std::invalid_argument("the CUDA ladder supports at most 8 formats");
  if (out.bound || out.bound_prob) throw std::invalid_argument("error bounds are computed on the CPU only");
  MatmulOptions m = rung_options(o, 0);
  cpu::detail::check_shapes(x.cols, w.rows, w.cols, b.data, b.size, m);
  const std::size_t total = x.rows * w.rows;
  const int rungs = static_cast<int>(o.formats.size());
  LadderStats stats;
  stats.count.assign(rungs, 0);
  if (total == 0) return stats;
  DeviceLayer<T> L(x, w, b);
  DeviceArray<double> z(total), num(total), kappa(total), y(total), err(total);
  DeviceArray<std::int32_t> rung(total);
  const Launch g = launch_for(total);

  auto t0 = clock::now();
  matmul_kernel<T><<<g.blocks, g.threads>>>(L.x.get(), L.wt.get(), L.b.get(), L.batch, L.n, L.out,
                                            make_accumulation(m), z.get());
  sync("low pass");
  auto t1 = clock::now();
  if (o.estimator == Estimator::Norm) {
    std::vector<double> h(total);
    cpu::inner_numerator(x, w, b, o.estimator, o.formats[0], o.accumulation.threads, h.data());
    num.upload(h.data());
  } else {
    const Accumulation est =
        make_accumulation(o.estimator == Estimator::Exact ? formats::fp32 : o.formats[0], Rounding::NearestEven);
    numerator_kernel<T><<<g.blocks, g.threads>>>(L.x.get(), L.wt.get(), L.b.get(), L.batch, L.n, L.out, est,
                                                 num.get());
  }
  DecisionParams p{o.activation, o.activation_alpha(), o.guard_sign, rungs, {}, growth_factor(o.factor, L.n), o.tau};
  for (int k = 0; k < rungs; ++k) p.us[k] = o.formats[k].unit_roundoff();
  // Sums clamped at max_finite that stayed finite: the same sums with no top differ (as on the CPU).
  DeviceArray<double> z_free(rung_clamps_silently(o, 0) ? total : 0);
  if (z_free.get()) {
    matmul_kernel<T><<<g.blocks, g.threads>>>(L.x.get(), L.wt.get(), L.b.get(), L.batch, L.n, L.out,
                                              make_accumulation(unbounded_options(o, 0)), z_free.get());
  }
  decide_kernel<><<<g.blocks, g.threads>>>(z.get(), num.get(), z_free.get(), total, p, kappa.get(), rung.get());
  sync("condition estimate");
  rung.download(out.rung);
  auto t2 = clock::now();
  auto lists = recompute_lists(out.rung, total, rungs);
  std::vector<std::size_t> top_clamped;
  for (int k = 1; k < rungs; ++k) {
    if (lists[k].empty()) continue;
    DeviceArray<std::size_t> entries(lists[k].data(), lists[k].size());
    const Launch gk = launch_for(lists[k].size());
    entries_kernel<T><<<gk.blocks, gk.threads>>>(L.x.get(), L.wt.get(), L.b.get(), L.n, L.out, entries.get(),
                                                lists[k].size(), make_accumulation(rung_options(o, k)), z.get());
    sync("recompute");
    if (!rung_clamps_silently(o, k)) continue;
    DeviceArray<double> free_k(total);
    entries_kernel<T><<<gk.blocks, gk.threads>>>(L.x.get(), L.wt.get(), L.b.get(), L.n, L.out, entries.get(),
                                                lists[k].size(), make_accumulation(unbounded_options(o, k)),
                                                free_k.get());
    sync("recompute with no top");
    std::vector<double> hz(total), hf(total);
    z.download(hz.data());
    free_k.download(hf.data());
    for (std::size_t e : lists[k]) {
      if (same_value(hz[e], hf[e])) continue;
      if (k == rungs - 1) {
        top_clamped.push_back(e);
      } else {
        out.rung[e] = rungs - 1;
        lists[rungs - 1].push_back(e);
      }
    }
  }
  rung.upload(out.rung);
  auto t3 = clock::now();
  finish_kernel<><<<g.blocks, g.threads>>>(z.get(), num.get(), kappa.get(), rung.get(), total, p, y.get(), err.get());
  sync("activation");
  z.download(out.z);
  y.download(out.y);
  kappa.download(out.kappa);
  err.download(out.err_est);
  for (std::size_t e : top_clamped) out.err_est[e] = HUGE_VAL;
  for (std::size_t e = 0; e < total; ++e) ++stats.count[out.rung[e]];
  auto secs = [](clock::time_point a, clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  stats.seconds_low = secs(t0, t1);
  stats.seconds_estimate = secs(t1, t2);
  stats.seconds_recompute = secs(t2, t3);
  return stats;
}

}  // namespace mpcore::cuda
