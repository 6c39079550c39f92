// The simulated-accumulation lane kernel in a binary32 container: twice the lanes of
// the binary64 kernel per vector (8 with AVX2, 16 with AVX-512), for accumulator
// formats that binary32 holds with two bits to spare (p <= 22, exponents inside binary32's normal range) and
// inputs whose products are exact in binary32 (proved by float32_exact.hpp).
//
// One step for each lane: hi + lo = s + w*x exactly (TwoSum in binary32), then the
// exact sum is rounded to the format by integer operations on hi's bits. Doubling
// the magnitude bits and adding the sign of lo relative to hi, m = 2|hi| +- 1, places
// the exact value strictly between two binary32 numbers whenever lo != 0 (TwoSum's
// |lo| < ulp(hi) on that side); the target's grid points and midpoints are binary32
// numbers, i.e. even in m, so every mode rounds m as an integer and ties are only
// real ties (lo = 0). The target spacing in m is 2^(25 - p), widened in the format's
// subnormal range by one bit per binade below 2^emin; below the smallest subnormal q
// the result is 0 or q, decided by comparing m with q/2's. Overflow and non-finite
// sums are marked and the chunk is redone exactly (in binary64) for those lanes.
// Directed-down rounding (the sign of an exact zero) and stochastic rounding (which
// needs lo's bits) stay on the binary64 kernel.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../rounding.hpp"
#include "simd.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace mpcore::cpu::simd {

// Whether the binary32 kernel rounds to this format and mode (inputs are checked apart).
inline bool supports_float32(const Rounder& R) {
  const bool mode = R.mode == Rounding::NearestEven || R.mode == Rounding::NearestAway ||
                    R.mode == Rounding::TowardZero || R.mode == Rounding::Upward || R.mode == Rounding::ToOdd;
  return mode && R.precision >= 2 && R.precision <= 22 && R.emin >= -126 && R.subnormals &&
         R.max_finite <= static_cast<double>(FLT_MAX);
}

template <int W>
struct V32 {
  typedef float f __attribute__((vector_size(4 * W)));
  typedef std::uint32_t u __attribute__((vector_size(4 * W)));
  typedef std::int32_t i __attribute__((vector_size(4 * W)));
};

// The format's grid as binary32 bit patterns, computed once per call.
struct Float32Grid {
  std::int32_t spacing;     // log2 of the target spacing in m = 2|v|, normal range: 25 - p
  std::int32_t emin_field;  // binary32 exponent field of 2^emin (>= 1)
  std::int32_t max_bits;    // bits of max_finite (exact in binary32: p <= 22, in range)
  // The smallest subnormal q (>= 2^-148 here), 2q, and the m of q/2, q, 3q/2.
  std::int32_t q_bits, two_q_bits, m_half_q, m_q, m_three_half_q;
  // Nearest even: c's exponent offset, its floor 1.5 * 2^(emin - p + 24) (c's ulp is then
  // q), and the largest magnitude the lanes handle (max_finite, or where c would overflow).
  std::int32_t rne_offset, rne_c_min, rne_limit;
};

inline Float32Grid float32_grid(const Rounder& R) {
  auto bits_of = [](float v) {
    std::int32_t b;
    std::memcpy(&b, &v, sizeof b);
    return b;
  };
  const float q = std::ldexp(1.0f, R.emin - R.precision + 1);
  Float32Grid k;
  k.spacing = 25 - R.precision;
  k.emin_field = R.emin + 127;
  k.max_bits = bits_of(static_cast<float>(R.max_finite));
  k.q_bits = bits_of(q);
  k.two_q_bits = bits_of(2 * q);
  k.m_half_q = 2 * bits_of(q / 2);
  k.m_q = 2 * k.q_bits;
  k.m_three_half_q = 2 * bits_of(1.5f * q);
  k.rne_offset = ((24 - R.precision) << 23) | 0x400000;
  k.rne_c_min = ((R.emin - R.precision + 24 + 127) << 23) | 0x400000;
  const std::int32_t c_limit = ((231 + R.precision) << 23) - 1;  // v's field + 24 - p <= 254
  k.rne_limit = k.max_bits < c_limit ? k.max_bits : c_limit;
  return k;
}

// sum = round(a + b) in every lane (sum may be a or b); marks in `special` the lanes
// whose result the exact binary64 path must give instead (overflow, non-finite).
// Exact: the caller knows a + b is exact in binary32 (a leaf 0 + p), so lo = 0.
// Vectors go by reference: by value they would change the ABI across target boundaries.
template <Rounding Mode, int W, bool Exact = false>
__attribute__((always_inline)) inline void add32(const typename V32<W>::f& a, const typename V32<W>::f& b,
                                                 const Float32Grid& k, typename V32<W>::i& special,
                                                 typename V32<W>::f& sum) {
  typedef typename V32<W>::f vf;
  typedef typename V32<W>::u vu;
  typedef typename V32<W>::i vi;
  const vf hi = a + b;
  vf lo = vf{};
  if constexpr (!Exact) {
    const vf back = hi - a;
    lo = (a - (hi - back)) + (b - back);
  }
  const vu hb = (vu)hi;
  const vi opposite = (vi)(hb ^ (vu)lo) >> 31;  // -1 where lo's sign differs from hi's
  if constexpr (Mode == Rounding::NearestEven) {
    // Round to odd in binary32 (the odd one of the two binary32 numbers around the
    // exact value, or hi if exact), then to nearest by adding and subtracting
    // c = 1.5 * 2^(e + 24 - p): binary32 addition rounds v + c on the target's grid
    // (c's ulp is the target spacing at v, at least q); rounding to odd first with
    // two spare bits (p <= 22) makes that second rounding correct (Boldo-Melquiond).
    const vi nonzero = lo != 0;
    const vi odd = ((vi)hb + (opposite & nonzero)) | (nonzero & 1);
    const vi c_bits = (odd & 0x7f800000) + k.rne_offset;
    const vf c = (vf)(c_bits > k.rne_c_min ? c_bits : k.rne_c_min);
    const vf rounded = ((vf)odd + c) - c;
    special |= (odd & 0x7fffffff) > k.rne_limit;                   // above max_finite, or c would overflow
    sum = (vf)((vi)rounded | (odd & std::int32_t(0x80000000u)));  // the sign of a zero result
  } else {
    // The other modes round m = 2|hi| +- 1 as an integer (see the top of this file).
    const vi side = (opposite | 1) & (lo != 0);  // sign of (exact - hi) relative to |hi|
    const vu m = (hb << 1) + (vu)side;
    const vi field = (vi)(m >> 24);
    const vi below = k.emin_field - (field > 1 ? field : 1);
    const vi shift_raw = k.spacing + (below > 0 ? below : 0);
    // From 24 on, the spacing reaches the binade's width: |exact| < 2q (q the smallest
    // subnormal) and the candidates are 0, q and 2q; compares with the m of q/2, q and
    // 3q/2 (m is monotone in |exact|) decide, as the mask rounding cannot.
    const vi tiny = shift_raw > 23;
    const vi shift = tiny ? 23 : shift_raw;
    const vu unit = (vu{} + 1) << (vu)shift;  // target spacing in m
    const vu mask = unit - 1;
    const vi positive = (vi)hb >= 0, mi = (vi)m;
    vu rounded;
    vi to_q, to_2q;  // tiny lanes: at least q, at least 2q
    if constexpr (Mode == Rounding::NearestAway) {
      rounded = (m + (unit >> 1)) & ~mask;
      to_q = mi >= k.m_half_q;
      to_2q = mi >= k.m_three_half_q;
    } else if constexpr (Mode == Rounding::TowardZero) {
      rounded = m & ~mask;
      to_q = mi >= k.m_q;
      to_2q = vi{};
    } else if constexpr (Mode == Rounding::Upward) {
      rounded = (m + (mask & (vu)positive)) & ~mask;  // away from zero if positive
      to_q = positive ? mi != 0 : mi >= k.m_q;
      to_2q = positive & (mi > k.m_q);
    } else {
      static_assert(Mode == Rounding::ToOdd, "the other modes use the binary64 kernel");
      rounded = (m & ~mask) | (unit & (vu)((m & mask) != 0));
      to_q = mi != 0;  // q is odd: every inexact result below 2q is q
      to_2q = vi{};
    }
    const vi small = to_2q ? k.two_q_bits : (to_q & k.q_bits);
    const vu magnitude = tiny ? (vu)small : rounded >> 1;
    special |= (vi)magnitude > k.max_bits;
    sum = (vf)(magnitude | (hb & 0x80000000u));
  }
}

// kWidth outputs: out[l] = the sequential accumulation of panel[j*kWidth + l] * xr[j], j < n.
template <Rounding Mode, int W>
__attribute__((always_inline)) inline void lanes32_body(const float* xr, const float* panel, std::size_t n,
                                                        const Rounder& R, double* out) {
  typedef typename V32<W>::f vf;
  typedef typename V32<W>::i vi;
  constexpr int G = static_cast<int>(kWidth) / W;
  const Float32Grid k = float32_grid(R);
  Rounder r = R;
  r.mode = Mode;
  vf s[G];
  for (int g = 0; g < G; ++g) s[g] = vf{};
  for (std::size_t j0 = 0; j0 < n; j0 += kChunk) {
    const std::size_t j1 = j0 + kChunk < n ? j0 + kChunk : n;
    // One mark per lane position for all groups (fewer registers): a marked position is
    // redone in every group, which is exact too.
    vf start[G];
    vi special = vi{};
    for (int g = 0; g < G; ++g) start[g] = s[g];
    for (std::size_t j = j0; j < j1; ++j) {
      const float xj = xr[j];
      for (int g = 0; g < G; ++g) {
        vf p;
        std::memcpy(&p, panel + j * kWidth + g * W, sizeof p);
        p *= xj;  // exact (the caller proved it)
        add32<Mode, W>(s[g], p, k, special, s[g]);
      }
    }
    bool some = false;
    for (int l = 0; l < W; ++l) some |= special[l] != 0;
    if (some) {  // rare: redo the chunk exactly (in binary64) for the lanes that met a special case
      for (std::size_t lane = 0; lane < kWidth; ++lane) {
        const int g = static_cast<int>(lane) / W, l = static_cast<int>(lane) % W;
        if (!special[l]) continue;
        double v = start[g][l];
        for (std::size_t j = j0; j < j1; ++j)
          v = add_rounded(v, static_cast<double>(panel[j * kWidth + lane]) * static_cast<double>(xr[j]), r, 0);
        // A value of the format (exact in binary32), or an infinity or NaN, which binary32
        // carries too: the next step marks the lane again and this loop keeps it exact.
        s[g][l] = static_cast<float>(v);
      }
    }
  }
  for (std::size_t lane = 0; lane < kWidth; ++lane) out[lane] = s[lane / W][lane % W];
}

#define MPCORE_LANES32_CLONE(NAME, W, ATTR)                                                           \
  template <Rounding Mode>                                                                            \
  ATTR void NAME(const float* xr, const float* panel, std::size_t n, const Rounder& R, double* out) { \
    lanes32_body<Mode, W>(xr, panel, n, R, out);                                                      \
  }
MPCORE_LANES32_CLONE(lanes32_portable, 4, )
#if defined(__x86_64__) && defined(__GNUC__)
MPCORE_LANES32_CLONE(lanes32_avx2, 8, __attribute__((target("avx2,fma"))))
MPCORE_LANES32_CLONE(lanes32_avx512, 16, __attribute__((target("avx512f,avx512dq"))))
#endif
#undef MPCORE_LANES32_CLONE

template <Rounding Mode>
void lanes32_mode(const float* xr, const float* panel, std::size_t n, const Rounder& R, double* out) {
#if defined(__x86_64__) && defined(__GNUC__)
  switch (active_isa()) {
    case Isa::Avx512:
      return lanes32_avx512<Mode>(xr, panel, n, R, out);
    case Isa::Avx2:
      return lanes32_avx2<Mode>(xr, panel, n, R, out);
    default:
      break;
  }
#endif
  lanes32_portable<Mode>(xr, panel, n, R, out);
}

// kWidth sequential sums of panel[j * kWidth + l] * xr[j], j < n, from zero, rounded per R.
// Requires supports_float32(R) and products exact in binary32.
inline void lanes32(const float* xr, const float* panel, std::size_t n, const Rounder& R, double* out) {
  switch (R.mode) {
    case Rounding::NearestEven:
      return lanes32_mode<Rounding::NearestEven>(xr, panel, n, R, out);
    case Rounding::NearestAway:
      return lanes32_mode<Rounding::NearestAway>(xr, panel, n, R, out);
    case Rounding::TowardZero:
      return lanes32_mode<Rounding::TowardZero>(xr, panel, n, R, out);
    case Rounding::Upward:
      return lanes32_mode<Rounding::Upward>(xr, panel, n, R, out);
    default:
      return lanes32_mode<Rounding::ToOdd>(xr, panel, n, R, out);
  }
}

}  // namespace mpcore::cpu::simd

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
