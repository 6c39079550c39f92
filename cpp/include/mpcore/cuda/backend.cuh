// The CUDA backend: host functions that run the kernels of kernels.cuh, with the CPU
// backend's signatures (host arrays in, host arrays out, on the current device), and the
// same functions for operands that already live on a device (`Resident`: device pointers of
// any strides in, as DLPack hands them over; the outputs of matmul stay on the device).
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

#include "../analysis/condition.hpp"
#include "../layer/ladder.hpp"
#include "../layer/matmul_options.hpp"
#include "../matrix.hpp"
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

// Tag: the views point to device memory (of the current device).
struct Resident {};

// Makes `device` current for a scope, then restores the caller's.
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    check(cudaGetDevice(&previous_), "cudaGetDevice");
    if (device != previous_) check(cudaSetDevice(device), "cudaSetDevice");
  }
  ~DeviceScope() { cudaSetDevice(previous_); }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = 0;
};

// x, W^T and b as contiguous device arrays: uploaded from host views, or packed on the
// device from resident views.
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
  DeviceLayer(Resident, const MatrixView<T>& xv, const MatrixView<T>& wv, const VectorView<T>& bv)
      : batch(xv.rows), n(wv.cols), out(wv.rows), x(xv.rows * xv.cols), wt(wv.rows * wv.cols), b(bv.data ? bv.size : 0) {
    pack(xv, false, x.get());
    pack(wv, true, wt.get());
    if (bv.data) pack(MatrixView<T>{bv.data, 1, bv.size, 0, bv.stride}, false, b.get());
  }

 private:
  static void pack(const MatrixView<T>& v, bool transpose, T* dst) {
    if (v.rows * v.cols == 0) return;
    const Launch g = launch_for(v.rows * v.cols);
    pack_kernel<T><<<g.blocks, g.threads>>>(v, transpose, dst);
    check(cudaGetLastError(), "pack_kernel");
  }
};

inline void sync(const char* what) {
  check(cudaGetLastError(), what);
  check(cudaDeviceSynchronize(), what);
}

template <class T>
void run_matmul(const DeviceLayer<T>& L, const MatmulOptions& o, double* y_device) {
  const Launch g = launch_for(L.batch * L.out);
  matmul_kernel<T><<<g.blocks, g.threads>>>(L.x.get(), L.wt.get(), L.b.get(), L.batch, L.n, L.out,
                                            make_accumulation(o), y_device);
  sync("matmul_kernel");
}

template <class T>
void matmul(const MatrixView<T>& x, const MatrixView<T>& w, const VectorView<T>& bias, double* y,
            const MatmulOptions& o) {
  check_matmul_shapes(x.cols, w.rows, w.cols, bias.data, bias.size, o);
  const std::size_t total = x.rows * w.rows;
  if (total == 0) return;
  DeviceLayer<T> L(x, w, bias);
  DeviceArray<double> dy(total);
  run_matmul(L, o, dy.get());
  dy.download(y);
}

// matmul of operands on `device`; y_device: (x.rows, w.rows) row-major on that device.
template <class T>
void matmul(Resident, int device, const MatrixView<T>& x, const MatrixView<T>& w, const VectorView<T>& bias,
            double* y_device, const MatmulOptions& o) {
  check_matmul_shapes(x.cols, w.rows, w.cols, bias.data, bias.size, o);
  if (x.rows * w.rows == 0) return;
  DeviceScope scope(device);
  DeviceLayer<T> L(Resident{}, x, w, bias);
  run_matmul(L, o, y_device);
}

// The ladder's backend on the current device: x, W^T and b uploaded once; each pass runs
// one thread per component and brings its sums back to the host arrays of ladder.hpp.
template <class T>
class LadderBackend {
 public:
  LadderBackend(const MatrixView<T>& x, const MatrixView<T>& w, const VectorView<T>& b)
      : xv_(x), wv_(w), bv_(b), L_(x, w, b), sums_(x.rows * w.rows) {}
  // Resident operands: the host views the norm estimator reads are made when it asks.
  LadderBackend(Resident, const MatrixView<T>& x, const MatrixView<T>& w, const VectorView<T>& b)
      : resident_(true), L_(Resident{}, x, w, b), sums_(x.rows * w.rows) {}
  std::size_t rows() const { return L_.batch; }
  std::size_t outputs() const { return L_.out; }
  std::size_t terms() const { return L_.n; }
  bool has_bias() const { return bv_.data != nullptr; }

  void all(const MatmulOptions& o, double* z) {
    const Launch g = launch_for(rows() * outputs());
    matmul_kernel<T><<<g.blocks, g.threads>>>(L_.x.get(), L_.wt.get(), L_.b.get(), L_.batch, L_.n, L_.out,
                                              make_accumulation(o), sums_.get());
    sync("matmul_kernel");
    sums_.download(z);
  }
  void entries(const std::vector<std::size_t>& list, const MatmulOptions& o, double* z) {
    DeviceArray<std::size_t> entries(list.data(), list.size());
    const Launch g = launch_for(list.size());
    entries_kernel<T><<<g.blocks, g.threads>>>(L_.x.get(), L_.wt.get(), L_.b.get(), L_.n, L_.out, entries.get(),
                                               list.size(), make_accumulation(o), sums_.get());
    sync("entries_kernel");
    std::vector<double> all(rows() * outputs());
    sums_.download(all.data());
    for (std::size_t e : list) z[e] = all[e];
  }
  void numerator(Estimator e, const Format& low, double* num) {
    if (e == Estimator::Norm) {
      if (resident_) download_views();
      norm_numerator(xv_, wv_, bv_, num);
      return;
    }
    const Accumulation est = make_accumulation(e == Estimator::Fp32 ? formats::fp32 : low, Rounding::NearestEven);
    const Launch g = launch_for(rows() * outputs());
    numerator_kernel<T><<<g.blocks, g.threads>>>(L_.x.get(), L_.wt.get(), L_.b.get(), L_.batch, L_.n, L_.out, est,
                                                 sums_.get());
    sync("numerator_kernel");
    sums_.download(num);
  }

 private:
  // Host copies of the packed operands, viewed as the caller's x, W and b.
  void download_views() {
    if (xv_.data) return;
    hx_.resize(L_.batch * L_.n);
    hwt_.resize(L_.n * L_.out);
    hb_.resize(L_.b.get() ? L_.out : 0);
    L_.x.download(hx_.data());
    L_.wt.download(hwt_.data());
    if (!hb_.empty()) L_.b.download(hb_.data());
    xv_ = row_major(hx_.data(), L_.batch, L_.n);
    wv_ = MatrixView<T>{hwt_.data(), L_.out, L_.n, 1, static_cast<std::ptrdiff_t>(L_.out)};  // W(i, j) = W^T[j, i]
    bv_ = hb_.empty() ? VectorView<T>{} : VectorView<T>{hb_.data(), L_.out, 1};
  }

  bool resident_ = false;
  MatrixView<T> xv_, wv_;
  VectorView<T> bv_;
  std::vector<T> hx_, hwt_, hb_;
  DeviceLayer<T> L_;
  DeviceArray<double> sums_;  // every component's sum of the last pass
};

// The ladder of ladder.hpp with the device's passes (no error bounds: those are the CPU's).
// make_backend(): the LadderBackend to run, made once the options are known to be valid.
template <class T, class MakeBackend>
LadderStats checked_ladder(const MatrixView<T>& x, const MatrixView<T>& w, const VectorView<T>& b,
                           const LadderOptions& o, const LadderOutputs& out, MakeBackend make_backend) {
  const std::string bad = validate_ladder(o);
  if (!bad.empty()) throw std::invalid_argument(bad);
  if (out.bound || out.bound_prob) throw std::invalid_argument("error bounds are computed on the CPU only");
  check_matmul_shapes(x.cols, w.rows, w.cols, b.data, b.size, rung_options(o, 0));
  if (x.rows * w.rows == 0) {
    LadderStats stats;
    stats.count.assign(o.formats.size(), 0);
    return stats;
  }
  LadderBackend<T> be = make_backend();
  return run_ladder(be, o, out);
}

template <class T>
LadderStats ladder_linear(const MatrixView<T>& x, const MatrixView<T>& w, const VectorView<T>& b,
                          const LadderOptions& o, const LadderOutputs& out) {
  return checked_ladder(x, w, b, o, out, [&] { return LadderBackend<T>(x, w, b); });
}

// The ladder of operands on `device`; its outputs are host arrays, as above.
template <class T>
LadderStats ladder_linear(Resident, int device, const MatrixView<T>& x, const MatrixView<T>& w,
                          const VectorView<T>& b, const LadderOptions& o, const LadderOutputs& out) {
  DeviceScope scope(device);
  return checked_ladder(x, w, b, o, out, [&] { return LadderBackend<T>(Resident{}, x, w, b); });
}

}  // namespace mpcore::cuda
