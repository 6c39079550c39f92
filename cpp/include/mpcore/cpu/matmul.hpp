// Simulated-accumulation matmul on the CPU: y[r, i] = sum_j W[i, j] x[r, j] (+ b[i])
// accumulated exactly as accumulator.hpp defines, for every output.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "../accumulator.hpp"
#include "../format.hpp"
#include "../matrix.hpp"
#include "../rounding.hpp"
#include "parallel.hpp"

namespace mpcore {

struct MatmulOptions {
  Format acc = formats::fp32;          // accumulator format
  Rounding rounding = Rounding::NearestEven;
  Order order = Order::Sequential;
  std::size_t block = 32;              // Blocked: products per inner block
  Format outer = formats::fp32;        // Blocked: outer accumulator format
  std::uint64_t seed = 0;              // Stochastic: key of the random streams
  int sr_bits = kMaxStochasticBits;    // Stochastic: random bits per decision
  int threads = 0;                     // 0: MPCORE_NUM_THREADS or all cores
};

inline Accumulation make_accumulation(const MatmulOptions& o) {
  return make_accumulation(o.acc, o.rounding, o.order, o.block, o.outer, o.seed, o.sr_bits);
}

namespace cpu {
namespace detail {

// Outputs computed side by side: independent dependency chains keep the FPU busy.
inline constexpr std::size_t kLanes = 8;

// Row panel of W: rows [p*kLanes, p*kLanes + kLanes) interleaved so that the
// kLanes weights of term j are adjacent; missing rows are zero and ignored.
template <class T>
std::vector<T> pack_panels(const MatrixView<T>& w) {
  const std::size_t panels = (w.rows + kLanes - 1) / kLanes, n = w.cols;
  std::vector<T> packed(panels * n * kLanes, T(0));
  for (std::size_t i = 0; i < w.rows; ++i) {
    T* dst = packed.data() + (i / kLanes) * n * kLanes + (i % kLanes);
    for (std::size_t j = 0; j < n; ++j) dst[j * kLanes] = w(i, j);
  }
  return packed;
}

// Sequential order, kLanes outputs of one input row at a time, simulated rounding.
template <Rounding Mode, class T>
void sequential_lanes(const T* xr, const T* panel, std::size_t n, const Rounder& R, std::uint64_t seed,
                      std::uint64_t first_index, double* s) {
  std::uint64_t key[kLanes];
  for (std::size_t l = 0; l < kLanes; ++l) {
    s[l] = 0.0;
    key[l] = Mode == Rounding::Stochastic ? stream_key(seed, first_index + l) : 0;
  }
  Rounder r = R;
  r.mode = Mode;  // a compile-time constant for the branches inside round_sum
  for (std::size_t j = 0; j < n; ++j) {
    const double xj = static_cast<double>(xr[j]);
    const T* wj = panel + j * kLanes;
    double next[kLanes];
    std::uint64_t bits[kLanes];
    bool special[kLanes];
    bool any = false;
    for (std::size_t l = 0; l < kLanes; ++l) {
      bits[l] = Mode == Rounding::Stochastic ? stream_bits(key[l], j) : 0;
      next[l] = add_rounded_normal<Mode>(s[l], static_cast<double>(wj[l]) * xj, r, bits[l], special[l]);
      any |= special[l];
    }
    if (any)  // rare: zeros, subnormals, overflow, non-finite values
      for (std::size_t l = 0; l < kLanes; ++l)
        if (special[l]) next[l] = add_rounded(s[l], static_cast<double>(wj[l]) * xj, r, bits[l]);
    for (std::size_t l = 0; l < kLanes; ++l) s[l] = next[l];
  }
}

template <class T>
void sequential_lanes_dispatch(const T* xr, const T* panel, std::size_t n, const Rounder& R,
                               std::uint64_t seed, std::uint64_t first_index, double* s) {
  switch (R.mode) {
    case Rounding::NearestEven: return sequential_lanes<Rounding::NearestEven>(xr, panel, n, R, seed, first_index, s);
    case Rounding::NearestAway: return sequential_lanes<Rounding::NearestAway>(xr, panel, n, R, seed, first_index, s);
    case Rounding::TowardZero: return sequential_lanes<Rounding::TowardZero>(xr, panel, n, R, seed, first_index, s);
    case Rounding::Upward: return sequential_lanes<Rounding::Upward>(xr, panel, n, R, seed, first_index, s);
    case Rounding::Downward: return sequential_lanes<Rounding::Downward>(xr, panel, n, R, seed, first_index, s);
    case Rounding::ToOdd: return sequential_lanes<Rounding::ToOdd>(xr, panel, n, R, seed, first_index, s);
    default: return sequential_lanes<Rounding::Stochastic>(xr, panel, n, R, seed, first_index, s);
  }
}

// Native fp32 accumulation of float inputs: fmaf rounds w*x + s once, exactly the
// model's step (the product of two floats is exact inside the fma).
inline void native_fp32_lanes(const float* xr, const float* panel, std::size_t n, double* out) {
  float s[kLanes] = {};
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t l = 0; l < kLanes; ++l) s[l] = std::fma(panel[j * kLanes + l], xr[j], s[l]);
  for (std::size_t l = 0; l < kLanes; ++l) out[l] = s[l];
}

// Native fp64 accumulation: fma for float inputs (exact product, one rounding);
// for double inputs the product is rounded first, as the simulated path documents.
template <class T>
void native_fp64_lanes(const T* xr, const T* panel, std::size_t n, double* out) {
  double s[kLanes] = {};
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t l = 0; l < kLanes; ++l) {
      const double w = static_cast<double>(panel[j * kLanes + l]), x = static_cast<double>(xr[j]);
      if constexpr (sizeof(T) == sizeof(float)) {
        s[l] = std::fma(w, x, s[l]);
      } else {
        const double p = w * x;
        s[l] = s[l] + p;
      }
    }
  for (std::size_t l = 0; l < kLanes; ++l) out[l] = s[l];
}

}  // namespace detail

// Which kernel a call takes (reported by benchmarks and tests).
enum class Path { NativeFp32, NativeFp64, SimulatedLanes, Generic };

template <class T>
Path choose_path(const MatmulOptions& o) {
  if (o.order != Order::Sequential) return Path::Generic;
  if (o.rounding == Rounding::NearestEven && o.acc == formats::fp64) return Path::NativeFp64;
  if (o.rounding == Rounding::NearestEven && o.acc == formats::fp32 && sizeof(T) == sizeof(float))
    return Path::NativeFp32;
  return Path::SimulatedLanes;
}

// y must hold x.rows * w.rows doubles (row-major, batch x out). bias may be empty.
// `force_path` lets tests check that every kernel gives the same bits.
template <class T>
void matmul(const MatrixView<T>& x, const MatrixView<T>& w, const VectorView<T>& bias, double* y,
            const MatmulOptions& o, const Path* force_path = nullptr) {
  if (x.cols != w.cols)
    throw std::invalid_argument("x has " + std::to_string(x.cols) + " features but w has " +
                                std::to_string(w.cols) + " columns");
  if (bias.data && bias.size != w.rows)
    throw std::invalid_argument("b has " + std::to_string(bias.size) + " entries but w has " +
                                std::to_string(w.rows) + " rows");
  const std::string bad_acc = validate(o.acc), bad_outer = validate(o.outer);
  if (!bad_acc.empty()) throw std::invalid_argument("acc: " + bad_acc);
  if (!bad_outer.empty()) throw std::invalid_argument("outer: " + bad_outer);

  const std::size_t batch = x.rows, out = w.rows, n = w.cols, L = detail::kLanes;
  if (batch == 0 || out == 0) return;
  const Accumulation acc = make_accumulation(o);
  Path path = force_path ? *force_path : choose_path<T>(o);
  if (path == Path::NativeFp32 && (sizeof(T) != sizeof(float) || !(o.acc == formats::fp32)))
    path = Path::SimulatedLanes;
  if (path == Path::NativeFp64 && !(o.acc == formats::fp64)) path = Path::SimulatedLanes;
  if ((path == Path::NativeFp32 || path == Path::NativeFp64) && o.rounding != Rounding::NearestEven)
    path = Path::SimulatedLanes;
  if (path != Path::Generic && o.order != Order::Sequential) path = Path::Generic;

  // Contiguous copies: rows of x, panels of W.
  std::vector<T> xs(batch * n);
  for (std::size_t r = 0; r < batch; ++r)
    for (std::size_t j = 0; j < n; ++j) xs[r * n + j] = x(r, j);
  std::vector<T> panels = detail::pack_panels(w);
  std::vector<double> b(bias.data ? out : 0);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<double>(bias[i]);

  const std::size_t npanels = (out + L - 1) / L;
  parallel_for(batch * npanels, o.threads, [&](std::size_t begin, std::size_t end) {
    double s[detail::kLanes];
    for (std::size_t task = begin; task < end; ++task) {
      const std::size_t r = task / npanels, p = task % npanels, i0 = p * L;
      const std::size_t lanes = out - i0 < L ? out - i0 : L;
      const T* xr = xs.data() + r * n;
      const T* panel = panels.data() + p * n * L;
      double* yr = y + r * out;
      if (path == Path::Generic) {
        for (std::size_t l = 0; l < lanes; ++l) {
          const std::size_t i = i0 + l;
          auto term = [&](std::size_t j) {
            return static_cast<double>(panel[j * L + l]) * static_cast<double>(xr[j]);
          };
          yr[i] = accumulate(term, n, b.empty() ? nullptr : &b[i], acc, r * out + i);
        }
        continue;
      }
      if (path == Path::NativeFp32) {
        if constexpr (sizeof(T) == sizeof(float)) detail::native_fp32_lanes(xr, panel, n, s);
      } else if (path == Path::NativeFp64) {
        detail::native_fp64_lanes(xr, panel, n, s);
      } else {
        detail::sequential_lanes_dispatch(xr, panel, n, acc.acc, o.seed, r * out + i0, s);
      }
      for (std::size_t l = 0; l < lanes; ++l) {
        const std::size_t i = i0 + l;
        double v = s[l];
        if (!b.empty()) {
          const bool sr = o.rounding == Rounding::Stochastic;
          const std::uint64_t bits = sr ? stream_bits(stream_key(o.seed, r * out + i), n) : 0;
          v = add_rounded(v, b[i], acc.acc, bits);
        }
        yr[i] = v;
      }
    }
  });
}

}  // namespace cpu
}  // namespace mpcore
