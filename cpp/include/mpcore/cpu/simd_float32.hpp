// The simulated-accumulation lane kernel in a binary32 container: twice the lanes of
// the binary64 kernel per vector (8 with AVX2, 16 with AVX-512), for accumulator formats
// that binary32 holds with two bits to spare (p <= 22, exponents inside binary32's normal
// range) and inputs whose products are exact in binary32 (proved by float32_exact.hpp).
//
// One step for each lane: hi + lo = s + w*x exactly (TwoSum in binary32), then one
// rounding of the exact sum to the format:
//   - nearest even: round to odd in binary32, then add and subtract a constant (see add32);
//   - the other modes: doubling the magnitude bits and adding the sign of lo relative to
//     hi, m = 2|hi| +- 1, places the exact value strictly between two binary32 numbers
//     whenever lo != 0 (TwoSum's |lo| < ulp(hi) on that side); the target's grid points and
//     midpoints are binary32 numbers, i.e. even in m, so m is rounded as an integer and
//     ties are only real ties (lo = 0). The spacing in m is 2^(25 - p), widened by one bit
//     per binade below 2^emin; below 2q (q the smallest subnormal) compares decide;
//   - stochastic: the truncation and the next grid point come from m, the decision from
//     an exact binary64 comparison that includes lo (see add32).
// Overflow and non-finite sums are marked and the chunk is redone exactly (in binary64).
// Rounding downward (the sign rule of an exact zero) stays on the binary64 kernel.
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
  const bool mode = R.mode != Rounding::Downward;  // rdn's zero-sign rule stays in binary64 lanes
  return mode && R.precision >= 2 && R.precision <= 22 && R.emin >= -126 && R.subnormals &&
         R.max_finite <= static_cast<double>(FLT_MAX);
}

// The modes the binary32 kernel implements (all but rounding downward).
template <class F>
void with_float32_rounding(Rounding mode, F&& f) {
  with_rounding<Rounding::NearestEven, Rounding::NearestAway, Rounding::TowardZero, Rounding::Upward,
                Rounding::ToOdd, Rounding::Stochastic>(mode, static_cast<F&&>(f));
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
  int nbits;        // stochastic rounding: random bits per decision
  double sr_scale;  // 2^-nbits
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
  k.nbits = R.sr_bits;
  k.sr_scale = std::ldexp(1.0, -R.sr_bits);
  return k;
}

// Stochastic rounding's random bits for W binary32 lanes: two halves of W/2 64-bit words
// (the streams of random.hpp are 64-bit).
template <int W>
struct Random32 {
  typename V<W / 2>::u half[2];
};

// Splits a W-lane binary32 vector into two W/2-lane binary64 vectors (exact conversion).
template <int W>
__attribute__((always_inline)) inline void widen(const typename V32<W>::f& v, typename V<W / 2>::d (&out)[2]) {
  typedef typename V32<W / 2>::f half;
  half h0, h1;
  if constexpr (W == 4) {
    h0 = __builtin_shufflevector(v, v, 0, 1);
    h1 = __builtin_shufflevector(v, v, 2, 3);
  } else if constexpr (W == 8) {
    h0 = __builtin_shufflevector(v, v, 0, 1, 2, 3);
    h1 = __builtin_shufflevector(v, v, 4, 5, 6, 7);
  } else {
    static_assert(W == 16, "lane widths are 4, 8 and 16");
    h0 = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
    h1 = __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  }
  out[0] = __builtin_convertvector(h0, typename V<W / 2>::d);
  out[1] = __builtin_convertvector(h1, typename V<W / 2>::d);
}

// sum = round(a + b) in every lane (sum may be a or b); marks in `special` the lanes
// whose result the exact binary64 path must give instead (overflow, non-finite).
// Exact: the caller knows a + b is exact in binary32 (a leaf 0 + p), so lo = 0.
// Vectors go by reference: by value they would change the ABI across target boundaries.
// rnd: the random bits (stochastic rounding only).
template <Rounding Mode, int W, bool Exact = false>
__attribute__((always_inline)) inline void add32(const typename V32<W>::f& a, const typename V32<W>::f& b,
                                                 const Float32Grid& k, const Random32<W>& rnd,
                                                 typename V32<W>::i& special, typename V32<W>::f& sum) {
  typedef typename V32<W>::f vf;
  typedef typename V32<W>::u vu;
  typedef typename V32<W>::i vi;
  vf hi, lo;
  two_sum<Exact>(a, b, hi, lo);
  const vu hb = (vu)hi;
  const vi opposite = (vi)(hb ^ (vu)lo) >> 31;  // -1 where lo's sign differs from hi's
  if constexpr (Mode == Rounding::NearestEven) {
    // Round to odd in binary32 (the odd one of the two binary32 numbers around the
    // exact value, or hi if exact), then to nearest by adding and subtracting
    // c = 1.5 * 2^(e + 24 - p): binary32 addition rounds v + c on the target's grid
    // (c's ulp is the target spacing at v, at least q); rounding to odd first with
    // two spare bits (p <= 22) makes that second rounding correct (Boldo-Melquiond).
    // Integer adds are unsigned (wrap-around defined); compares are signed.
    const vi nonzero = lo != 0;
    const vi odd = (vi)((hb + (vu)(opposite & nonzero)) | (vu)(nonzero & 1));
    const vi c_bits = (vi)(((vu)odd & 0x7f800000u) + (vu)(vi{} + k.rne_offset));
    const vf c = (vf)(c_bits > k.rne_c_min ? c_bits : k.rne_c_min);
    const vf rounded = ((vf)odd + c) - c;
    special |= (odd & 0x7fffffff) > k.rne_limit;                   // above max_finite, or c would overflow
    sum = (vf)((vi)rounded | (odd & std::int32_t(0x80000000u)));  // the sign of a zero result
  } else {
    // The other modes round m = 2|hi| +- 1 as an integer (see the top of this file).
    // A non-finite TwoSum (binary32 overflow of a finite sum) leaves lo NaN and m within one
    // of 0xff000000: every mode below then rounds to max_finite (the right clamp for rtz, rto
    // and rup of a negative sum) or marks the lane (a magnitude, or SR's next point, past it).
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
    if constexpr (Mode == Rounding::Stochastic) {
      // Up with probability (|exact| - base) / spacing, resolved to nbits random bits as
      // round_sum does: up iff rnd < floor(D / spacing * 2^nbits), i.e. iff
      // (rnd + 1) * spacing * 2^-nbits <= D, with D = |exact| - base. D = (|hi| - base) + lo
      // is exact in binary64 (|hi| - base is exact in binary32: both lie within a spacing
      // and an ulp of each other; the two parts span fewer than 53 bits), as is the right side.
      typedef typename V<W / 2>::d vd;
      typedef typename V32<W / 2>::i vi_half;
      const vu down = m & ~mask;  // toward zero
      const vi at_least_q = mi >= k.m_q;
      const vu base_bits = tiny ? (vu)(at_least_q & k.q_bits) : down >> 1;
      const vu next_bits = tiny ? (vu)(at_least_q ? k.two_q_bits : k.q_bits) : (down + unit) >> 1;
      const vf base = (vf)base_bits, next = (vf)next_bits;
      const vf d1 = (vf)(hb & 0x7fffffffu) - base;      // exact
      const vf lo_rel = (vf)((vu)lo ^ (hb & 0x80000000u));  // lo, signed relative to |hi|
      const vf spacing_f = next - base;                   // exact
      vd dd1[2], dlo[2], dsp[2];
      widen<W>(d1, dd1);
      widen<W>(lo_rel, dlo);
      widen<W>(spacing_f, dsp);
      vi_half up_half[2];
      for (int h = 0; h < 2; ++h) {
        const vd D = dd1[h] + dlo[h];
        const vd r = (vd)(rnd.half[h] | 0x4330000000000000ull) - 4503599627370496.0 + 1.0;  // rnd + 1, exact
        up_half[h] = __builtin_convertvector(r * (dsp[h] * k.sr_scale) <= D, vi_half);
      }
      vi up;
      if constexpr (W == 4) {
        up = __builtin_shufflevector(up_half[0], up_half[1], 0, 1, 2, 3);
      } else if constexpr (W == 8) {
        up = __builtin_shufflevector(up_half[0], up_half[1], 0, 1, 2, 3, 4, 5, 6, 7);
      } else {
        up = __builtin_shufflevector(up_half[0], up_half[1], 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
      }
      const vu magnitude = up ? next_bits : base_bits;
      // Where the next grid point lies above max_finite (it may be binary32's inf, whose
      // spacing would make the comparison above meaningless), the exact step decides.
      special |= (vi)next_bits > k.max_bits;
      sum = (vf)(magnitude | (hb & 0x80000000u));
      return;
    } else if constexpr (Mode == Rounding::NearestAway) {
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
      static_assert(Mode == Rounding::ToOdd, "rounding downward uses the binary64 kernel");
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

// Stochastic-rounding keys of W binary32 lanes (as two halves of 64-bit words).
template <int W>
struct Keys32 {
  typename V<W / 2>::u half[2];
};

template <Rounding Mode, int W>
__attribute__((always_inline)) inline void keys32(std::uint64_t seed, const std::uint64_t* index, Keys32<W>& key) {
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < W / 2; ++l)
      key.half[h][l] = Mode == Rounding::Stochastic ? stream_key(seed, index[h * (W / 2) + l]) : 0;
}

// The random bits of step `step` for W lanes (zero unless stochastic).
template <Rounding Mode, int W>
__attribute__((always_inline)) inline void random32(const Keys32<W>& key, std::uint64_t step, int nbits,
                                                    Random32<W>& rnd) {
  for (int h = 0; h < 2; ++h) {
    rnd.half[h] = typename V<W / 2>::u{};
    if constexpr (Mode == Rounding::Stochastic) random_bits<W / 2>(key.half[h], step, nbits, rnd.half[h]);
  }
}

// kWidth outputs: out[l] = the sequential accumulation of panel[j*kWidth + l] * xr[j], j < n.
// step0: the stochastic-rounding step number of term 0 (a block of a longer sum starts later).
template <Rounding Mode, int W>
__attribute__((always_inline)) inline void lanes32_body(const float* xr, const float* panel, std::size_t n,
                                                        const Rounder& R, std::uint64_t seed,
                                                        const std::uint64_t* index, double* out, std::uint64_t step0) {
  typedef typename V32<W>::f vf;
  typedef typename V32<W>::i vi;
  constexpr int G = static_cast<int>(kWidth) / W;
  const Float32Grid k = float32_grid(R);
  Rounder r = R;
  r.mode = Mode;
  Keys32<W> key[G];
  for (int g = 0; g < G; ++g) keys32<Mode, W>(seed, index + g * W, key[g]);
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
        ::mpcore::detail::opaque(p);
        Random32<W> rnd;
        random32<Mode, W>(key[g], j + step0, k.nbits, rnd);
        add32<Mode, W>(s[g], p, k, rnd, special, s[g]);
      }
    }
    bool some = false;
    for (int l = 0; l < W; ++l) some |= special[l] != 0;
    if (some) {  // rare: redo the chunk exactly (in binary64) for the lanes that met a special case
      for (std::size_t lane = 0; lane < kWidth; ++lane) {
        const int g = static_cast<int>(lane) / W, l = static_cast<int>(lane) % W;
        if (!special[l]) continue;
        const std::uint64_t lane_key = Mode == Rounding::Stochastic ? stream_key(seed, index[lane]) : 0;
        double v = start[g][l];
        for (std::size_t j = j0; j < j1; ++j)
          v = add_rounded(v, ::mpcore::detail::unfused_mul(static_cast<double>(panel[j * kWidth + lane]), static_cast<double>(xr[j])), r,
                          Mode == Rounding::Stochastic ? stream_bits(lane_key, j + step0) : 0);
        // A value of the format (exact in binary32), or an infinity or NaN, which binary32
        // carries too: the next step marks the lane again and this loop keeps it exact.
        s[g][l] = static_cast<float>(v);
      }
    }
  }
  for (std::size_t lane = 0; lane < kWidth; ++lane) out[lane] = s[lane / W][lane % W];
}

#define MPCORE_LANES32_CLONE(NAME, W, ATTR)                                                                  \
  template <Rounding Mode>                                                                                    \
  ATTR void NAME(const float* xr, const float* panel, std::size_t n, const Rounder& R, std::uint64_t seed,    \
                 const std::uint64_t* index, double* out, std::uint64_t step0) {                              \
    lanes32_body<Mode, W>(xr, panel, n, R, seed, index, out, step0);                                          \
  }
MPCORE_LANES32_CLONE(lanes32_portable, 4, )
#if defined(__x86_64__) && defined(__GNUC__)
MPCORE_LANES32_CLONE(lanes32_avx2, 8, __attribute__((target("avx2,fma"))))
MPCORE_LANES32_CLONE(lanes32_avx512, 16, __attribute__((target("avx512f,avx512dq"))))
#endif
#undef MPCORE_LANES32_CLONE

template <Rounding Mode>
void lanes32_mode(const float* xr, const float* panel, std::size_t n, const Rounder& R, std::uint64_t seed,
                  const std::uint64_t* index, double* out, std::uint64_t step0) {
#if defined(__x86_64__) && defined(__GNUC__)
  switch (active_isa()) {
    case Isa::Avx512: return lanes32_avx512<Mode>(xr, panel, n, R, seed, index, out, step0);
    case Isa::Avx2: return lanes32_avx2<Mode>(xr, panel, n, R, seed, index, out, step0);
    default: break;
  }
#endif
  lanes32_portable<Mode>(xr, panel, n, R, seed, index, out, step0);
}

// kWidth sequential sums of panel[j * kWidth + l] * xr[j], j < n, from zero, rounded per R.
// Requires supports_float32(R) and products exact in binary32.
inline void lanes32(const float* xr, const float* panel, std::size_t n, const Rounder& R, std::uint64_t seed,
                    const std::uint64_t* index, double* out, std::uint64_t step0 = 0) {
  with_float32_rounding(R.mode,
                        [&](auto m) { lanes32_mode<decltype(m)::value>(xr, panel, n, R, seed, index, out, step0); });
}

}  // namespace mpcore::cpu::simd

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
