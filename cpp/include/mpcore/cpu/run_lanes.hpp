// kLanes outputs of one panel against one row of x (or two), by the path chosen: the
// scalar lane loop, the native FMA chains, or the vector lane kernels in sequential,
// pairwise or blocked order, then the bias as the last term.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../numerics/accumulator.hpp"
#include "../numerics/rounding.hpp"
#include "paths.hpp"
#include "prepared.hpp"
#if !defined(__CUDACC__)
#include "lanes/kernels.hpp"
#include "lanes/native.hpp"
#endif

namespace mpcore::cpu::detail {

// Outputs computed side by side: independent dependency chains keep the FPU busy.
inline constexpr std::size_t kLanes = kPanelRows;

// Where the factors of term j of lane l come from.
// PanelSource: kLanes rows of W (a packed panel) against one row of x.
template <class T>
struct PanelSource {
  const T* xr;
  const T* panel;
  T w(std::size_t j, std::size_t l) const { return panel[j * kLanes + l]; }
  T x(std::size_t j, std::size_t) const { return xr[j]; }
};
// Sequential order, kLanes independent outputs at a time, simulated rounding.
// index[l] is lane l's output index (its stochastic-rounding stream).
template <Rounding Mode, class Source>
void sequential_lanes(const Source& src, std::size_t n, const Rounder& R, std::uint64_t seed,
                      const std::uint64_t* index, double* s) {
  std::uint64_t key[kLanes];
  for (std::size_t l = 0; l < kLanes; ++l) {
    s[l] = 0.0;
    key[l] = Mode == Rounding::Stochastic ? stream_key(seed, index[l]) : 0;
  }
  Rounder r = R;
  r.mode = Mode;  // a compile-time constant for the branches inside round_sum
  for (std::size_t j = 0; j < n; ++j) {
    double p[kLanes], next[kLanes];
    std::uint32_t bits[kLanes];
    bool special[kLanes];
    bool any = false;
    for (std::size_t l = 0; l < kLanes; ++l) {
      p[l] = ::mpcore::detail::unfused_mul(static_cast<double>(src.w(j, l)), static_cast<double>(src.x(j, l)));
      bits[l] = Mode == Rounding::Stochastic ? stream_bits(key[l], j) : 0;
      next[l] = add_rounded_normal<Mode>(s[l], p[l], r, bits[l], special[l]);
      any |= special[l];
    }
    if (any)  // rare: zeros, subnormals, overflow, non-finite values
      for (std::size_t l = 0; l < kLanes; ++l)
        if (special[l]) next[l] = add_rounded(s[l], p[l], r, bits[l]);
    for (std::size_t l = 0; l < kLanes; ++l) s[l] = next[l];
  }
}

// Native fp32 accumulation of float inputs: fmaf rounds w*x + s once, exactly the
// model's step (the product of two floats is exact inside the fma).
template <class Source>
void native_fp32_lanes(const Source& src, std::size_t n, double* out) {
  float s[kLanes] = {};
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t l = 0; l < kLanes; ++l)
      s[l] = std::fma(static_cast<float>(src.w(j, l)), static_cast<float>(src.x(j, l)), s[l]);
  for (std::size_t l = 0; l < kLanes; ++l) out[l] = s[l];
}

// Native fp64 accumulation: fma for float inputs (exact product, one rounding);
// for double inputs the product is rounded first, as the simulated path documents.
template <class T, class Source>
void native_fp64_lanes(const Source& src, std::size_t n, double* out) {
  double s[kLanes] = {};
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t l = 0; l < kLanes; ++l) {
      const double w = static_cast<double>(src.w(j, l)), x = static_cast<double>(src.x(j, l));
      if constexpr (sizeof(T) == sizeof(float)) {
        s[l] = std::fma(w, x, s[l]);
      } else {
        s[l] = s[l] + ::mpcore::detail::unfused_mul(w, x);  // never one fma (Clang fuses at -ffp-contract=fast)
      }
    }
  for (std::size_t l = 0; l < kLanes; ++l) out[l] = s[l];
}

// The bias as the last term of each sum: out[r][l] for rows r < Rows (s, index: kLanes
// entries per row; its step number is accumulate()'s) and lanes l < lanes. s's lanes from
// `lanes` on are set to zero (the vector step reads whole rows).
template <int Rows>
void add_bias(double* s, std::size_t n, const Accumulation& acc, const std::uint64_t* index, const double* bias,
              std::size_t lanes, double* const* out) {
  if (!bias) {
    for (int row = 0; row < Rows; ++row)
      for (std::size_t l = 0; l < lanes; ++l) out[row][l] = s[row * kLanes + l];
    return;
  }
  const std::uint64_t bias_step = StepNumbers{n}.bias(acc.order, 0);  // sequential or pairwise
#if !defined(__CUDACC__)
  if (simd::supports(acc.acc)) {  // in the vector lanes, all rows in one call (a scalar step per
                                  // output cost up to 60 % of a 16-term sum)
    static_assert(kLanes == simd::kWidth, "the vector kernel adds kLanes biases");
    double biases[kLanes] = {}, rounded[Rows * kLanes];
    for (std::size_t l = 0; l < lanes; ++l) biases[l] = bias[l];
    for (int row = 0; row < Rows; ++row)
      for (std::size_t l = lanes; l < kLanes; ++l) s[row * kLanes + l] = 0.0;
    simd::bias_lanes(s, Rows, biases, acc.acc, acc.seed, index, bias_step, rounded);
    for (int row = 0; row < Rows; ++row)
      for (std::size_t l = 0; l < lanes; ++l) out[row][l] = rounded[row * kLanes + l];
    return;
  }
#endif
  // The branch-free scalar step where it finishes (most sums), else the exact one.
  with_any_rounding(acc.acc.mode, [&](auto m) {
    constexpr Rounding Mode = decltype(m)::value;
    Rounder r = acc.acc;
    r.mode = Mode;
    for (int row = 0; row < Rows; ++row)
      for (std::size_t l = 0; l < lanes; ++l) {
        const std::size_t at = row * kLanes + l;
        const std::uint32_t bits =
            Mode == Rounding::Stochastic ? stream_bits(stream_key(acc.seed, index[at]), bias_step) : 0;
        bool special = false;
        double v = add_rounded_normal<Mode>(s[at], bias[l], r, bits, special);
        if (special) v = add_rounded(s[at], bias[l], r, bits);
        out[row][l] = v;
      }
  });
}

#if !defined(__CUDACC__)
// Blocked order in the vector lanes: each block summed from zero in the lanes
// (sum_lanes(j0, len, t)), then added into the outer accumulator, then the bias (in the
// outer format): out[l] for lanes [0, lanes).
template <class SumLanes>
void blocked_lanes(const SumLanes& sum_lanes, std::size_t n, const Accumulation& acc, const std::uint64_t* index,
                   const double* bias, std::size_t lanes, double* out) {
  // The outer additions by hardware addition when the outer format is fp32 or fp64 with
  // nearest-even (one IEEE rounding of two values of that format, the model's step), else
  // per lane.
  const bool sr = acc.acc.mode == Rounding::Stochastic;
  const bool nearest = acc.acc.mode == Rounding::NearestEven;
  const bool ieee_outer = acc.outer.subnormals && std::isinf(acc.outer.overflow_value);
  const bool outer32 = nearest && ieee_outer && acc.outer.precision == 24 && acc.outer.emin == -126 &&
                       acc.outer.max_finite == static_cast<double>(FLT_MAX) && acc.acc.precision <= 24 &&
                       acc.acc.emin >= -126 && acc.acc.max_finite <= static_cast<double>(FLT_MAX);
  const bool outer64 = nearest && ieee_outer && acc.outer.precision == 53 && acc.outer.emin == -1022 &&
                       acc.outer.max_finite == DBL_MAX;
  const StepNumbers step{n};
  auto bits = [&](std::size_t l, std::uint64_t number) {
    return sr ? stream_bits(stream_key(acc.seed, index[l]), number) : std::uint32_t{0};
  };
  double s[kLanes] = {}, t[kLanes];
  float s32[kLanes] = {};
  std::uint64_t blocks = 0;
  for (std::size_t j0 = 0; j0 < n; j0 += acc.block, ++blocks) {
    const std::size_t len = j0 + acc.block < n ? acc.block : n - j0;
    sum_lanes(j0, len, t);
    if (outer32) {
      for (std::size_t l = 0; l < kLanes; ++l) s32[l] += static_cast<float>(t[l]);  // t[l] is a binary32 number
    } else if (outer64) {
      for (std::size_t l = 0; l < kLanes; ++l) s[l] += t[l];
    } else {
      for (std::size_t l = 0; l < kLanes; ++l) s[l] = add_rounded(s[l], t[l], acc.outer, bits(l, step.combine(blocks)));
    }
  }
  if (outer32)
    for (std::size_t l = 0; l < kLanes; ++l) s[l] = s32[l];
  for (std::size_t l = 0; l < lanes; ++l) {
    double v = s[l];
    if (bias) v = add_rounded(v, bias[l], acc.outer, bits(l, step.bias(Order::Blocked, blocks)));
    out[l] = v;
  }
}
#endif

// Whether run_lanes computes `lanes` live outputs with half the vectors (a sequential sum
// in the vector kernels): it then reads only the first kLanes / 2 lanes of each step.
inline bool runs_half_panel(Path path, const Accumulation& acc, std::size_t lanes) {
#if !defined(__CUDACC__)
  return (path == Path::Lanes || path == Path::Lanes32) && simd::supports(acc.acc) &&
         acc.order == Order::Sequential && lanes <= kLanes / 2;
#else
  (void)path, (void)acc, (void)lanes;
  return false;
#endif
}

// kLanes outputs in acc's order, then the bias: out[l] for lanes [0, lanes).
template <class T, class Source>
void run_lanes(Path path, const Source& src, std::size_t n, const Accumulation& acc, const std::uint64_t* index,
               const double* bias, std::size_t lanes, double* out) {
  double s[kLanes];
  [[maybe_unused]] constexpr bool panel = std::is_same_v<Source, PanelSource<T>>;  // unused where nvcc compiles it
  if (path == Path::NativeFp32) {
    if constexpr (sizeof(T) == sizeof(float)) {
#if !defined(__CUDACC__)
      if constexpr (panel) {
        if (!simd::native_panel<true>(src.xr, src.panel, n, s)) native_fp32_lanes(src, n, s);
      } else
#endif
        native_fp32_lanes(src, n, s);
    }
  } else if (path == Path::NativeFp64) {
#if !defined(__CUDACC__)
    if constexpr (panel) {
      if (!simd::native_panel<false>(src.xr, src.panel, n, s)) native_fp64_lanes<T>(src, n, s);
    } else
#endif
      native_fp64_lanes<T>(src, n, s);
#if !defined(__CUDACC__)
  } else if (panel && simd::supports(acc.acc)) {
    if constexpr (panel) {
      static_assert(kLanes == simd::kWidth, "the vector kernel computes kLanes outputs");
      // The sequential sum of terms [j0, j0 + len) from zero into t, in Lanes lanes.
      auto sum_width = [&](std::size_t j0, std::size_t len, double* t, auto width) {
        constexpr int Lanes = decltype(width)::value;
        if constexpr (std::is_same_v<T, float>) {
          if (path == Path::Lanes32)
            return simd::lanes32<Lanes>(src.xr + j0, src.panel + j0 * kLanes, len, acc.acc, acc.seed, index, t, j0);
        }
        simd::lanes<T, Lanes>(src.xr + j0, src.panel + j0 * kLanes, len, acc.acc, acc.seed, index, t, j0);
      };
      auto sum_lanes = [&](std::size_t j0, std::size_t len, double* t) {
        sum_width(j0, len, t, std::integral_constant<int, static_cast<int>(kLanes)>{});
      };
      if (acc.order == Order::Pairwise) {
        if constexpr (std::is_same_v<T, float>) {
          if (path == Path::Lanes32) simd::pairwise_lanes32(src.xr, src.panel, n, acc, index, s);
        }
        if (path != Path::Lanes32) simd::pairwise_lanes(src.xr, src.panel, n, acc, index, s);
      } else if (acc.order == Order::Blocked) {
        blocked_lanes(sum_lanes, n, acc, index, bias, lanes, out);
        return;
      } else if (runs_half_panel(path, acc, lanes)) {  // a tail of outputs (s[l], l < lanes, is read)
        sum_width(0, n, s, std::integral_constant<int, static_cast<int>(kLanes / 2)>{});
      } else {
        sum_lanes(0, n, s);
      }
    }
#endif
  } else {
    const Rounder& R = acc.acc;
    with_any_rounding(R.mode,
                      [&](auto m) { sequential_lanes<decltype(m)::value>(src, n, R, acc.seed, index, s); });
  }
  add_bias<1>(s, n, acc, index, bias, lanes, &out);
}

#if !defined(__CUDACC__)
// Rows rows of x (binary32 lanes; sequential order, or pairwise with two rows) against one
// panel: the bits of Rows run_lanes calls. index, out: kLanes entries per row.
template <int Rows>
inline void run_rows32(const float* const* xr, const float* panel, std::size_t n, const Accumulation& acc,
                       const std::uint64_t* index, const double* bias, std::size_t lanes, double* const* out) {
  double s[Rows * kLanes];
  if constexpr (Rows == 2) {
    if (acc.order == Order::Pairwise) {
      simd::pairwise_lanes32_two_rows(xr, panel, n, acc, index, s);
    } else {
      simd::lanes32_rows<2>(xr, panel, n, acc.acc, acc.seed, index, s);
    }
  } else {
    simd::lanes32_rows<Rows>(xr, panel, n, acc.acc, acc.seed, index, s);
  }
  add_bias<Rows>(s, n, acc, index, bias, lanes, out);
}
#endif

}  // namespace mpcore::cpu::detail
