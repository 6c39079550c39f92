// The accumulator format's grid as the lane kernels see it: constants computed once per
// call from the Rounder (binary64 bit patterns for the binary64 lanes, binary32 ones for
// the binary32 lanes), and which formats and modes each container handles.
#pragma once

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../../numerics/format.hpp"
#include "../../numerics/rounding.hpp"

namespace mpcore::cpu::simd {

inline constexpr std::size_t kWidth = 32;
// Steps between checks for special lanes (a chunk with one is redone): long where they are
// rare (overflow, non-finite sums), short for stochastic rounding, whose cheaper steps mark
// the lanes near zero for a later step, and for rounding downward, whose exact zero sums
// (the sign rule) go to the scalar step.
template <Rounding Mode>
inline constexpr std::size_t kChunk = Mode == Rounding::Stochastic || Mode == Rounding::Downward ? 16 : 64;

// Stochastic rounding where nbits <= shift (Float64Grid's sr_rem_only), without building the
// grid: the entry points pick their kernel by it, and the kernel builds the grid.
inline bool sr_rem_only(const Rounder& R) { return R.sr_bits <= R.normal_shift; }

// The format's grid in binary64 bit terms, computed once per call.
struct Float64Grid {
  std::int64_t shift;        // binary64 significand bits dropped in the normal range: 53 - p
  std::int64_t nbits;        // stochastic rounding: random bits per decision
  std::int64_t emin_field;   // binary64 exponent field of 2^emin
  std::int64_t min_bits;     // below: no subnormals to round to (0 if the format has them)
  std::int64_t max_bits;     // bits of max_finite
  // The smallest subnormal q, 2q, and the bits of q/2, 3q/2 (all binary64 numbers).
  std::int64_t q_bits, two_q_bits, half_q_bits, three_half_q_bits;
  // Nearest even: c's exponent offset, its floor 1.5 * 2^(emin - p + 53), and the largest
  // magnitude the lanes handle (max_finite, or where c would overflow).
  std::int64_t rne_offset, rne_c_min, rne_limit;
  // Stochastic rounding: nbits <= shift, so m's remainder alone holds the random bits'
  // fraction in every lane (the spacing in m is at least 2^shift) and lo never enters.
  bool sr_rem_only;
  // ... and the format has subnormals: sums below 2^emin are moved up by 2^emin (step64-inl.hpp).
  bool sr_offset;
  std::int64_t emin_bits;    // bits of 2^emin
  double sr_inv_q, sr_two_nbits;  // 1 / q and 2^nbits (below 2q)
};

inline Float64Grid float64_grid(const Rounder& R) {
  Float64Grid grid;
  grid.shift = R.normal_shift;
  grid.nbits = R.sr_bits;
  grid.emin_field = R.emin + 1023;
  grid.min_bits = R.subnormals ? 0 : grid.emin_field << 52;
  grid.max_bits = static_cast<std::int64_t>(R.max_bits);
  const double q = std::ldexp(1.0, R.emin - R.precision + 1);
  grid.q_bits = static_cast<std::int64_t>(detail::to_bits(q));
  grid.two_q_bits = static_cast<std::int64_t>(detail::to_bits(2 * q));
  grid.half_q_bits = static_cast<std::int64_t>(detail::to_bits(q / 2));
  grid.three_half_q_bits = static_cast<std::int64_t>(detail::to_bits(1.5 * q));
  grid.rne_offset = (static_cast<std::int64_t>(53 - R.precision) << 52) | (std::int64_t{1} << 51);
  grid.rne_c_min = (static_cast<std::int64_t>(R.emin - R.precision + 53 + 1023) << 52) | (std::int64_t{1} << 51);
  const std::int64_t c_limit = (static_cast<std::int64_t>(1994 + R.precision) << 52) - 1;  // field + 53 - p <= 2046
  grid.rne_limit = grid.max_bits < c_limit ? grid.max_bits : c_limit;
  grid.sr_rem_only = sr_rem_only(R);
  grid.sr_offset = grid.sr_rem_only && R.subnormals;
  grid.emin_bits = grid.emin_field << 52;
  grid.sr_inv_q = 1.0 / q;
  grid.sr_two_nbits = std::ldexp(1.0, static_cast<int>(grid.nbits));
  return grid;
}

// Whether the vector kernel handles this format and mode (the scalar kernels handle the
// rest): 2 <= p <= 52, and p <= 51 for nearest-even (two spare bits for round-to-odd),
// and the format stays off binary64's edges: its smallest subnormal q is a binary64 normal
// number (q >= 2^-1022, so binary64 subnormal sums fall below 2q, where compares decide) and
// its max_finite lies below 2^1023 (so a non-finite TwoSum rounds past max_finite and is
// marked). Custom formats beyond either edge run the exact scalar path.
inline bool supports_grid(int precision, int emin, double max_finite, Rounding mode) {
  return precision >= 2 && precision <= (mode == Rounding::NearestEven ? 51 : 52) && emin - precision + 1 >= -1022 &&
         max_finite < 0x1p1023;
}
inline bool supports(const Format& f, Rounding mode) { return supports_grid(f.precision, f.emin, f.max_finite, mode); }
inline bool supports(const Rounder& R) { return supports_grid(R.precision, R.emin, R.max_finite, R.mode); }

// Whether the binary32 kernel rounds to this format and mode (inputs are checked apart).
inline bool supports_float32(const Rounder& R) {
  const bool mode = R.mode != Rounding::Downward;  // rdn's zero-sign rule stays in binary64 lanes
  return mode && R.precision >= 2 && R.precision <= 22 && R.emin >= -126 && R.subnormals &&
         R.max_finite <= static_cast<double>(FLT_MAX);
}

// Stochastic rounding's vector steps in the binary32 lanes, cheapest first: `Normal` decides
// the lanes in the format's normal range, `Offset` also those below 2^emin (moved up by 2^emin
// into the lowest normal binade, whose spacing is q too), `Subnormal` those down to 2q,
// `Tiny` also those below, `Any` every lane (a widened comparison).
enum class SrStep : int { Normal = 0, Offset = 1, Subnormal = 2, Tiny = 3, Any = 4 };

// The modes the binary32 kernel implements (all but rounding downward).
template <class F>
void with_float32_rounding(Rounding mode, F&& f) {
  with_rounding<Rounding::NearestEven, Rounding::NearestAway, Rounding::TowardZero, Rounding::Upward,
                Rounding::ToOdd, Rounding::Stochastic>(mode, static_cast<F&&>(f));
}

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
  // Stochastic rounding's integer decisions (step32-inl.hpp): valid where the `usable`
  // flag holds; each marks the lanes it leaves to the next step.
  //   normal:    0 <= k = nbits - spacing <= 23; marks m in [1, normal_m_min), below the
  //              format's normal range (or where the scale 2^(field - 24 - k) leaves
  //              binary32's normal range);
  //   offset:    the normal step, where it decides the binade [2^emin, 2^(emin+1)) (the
  //              scale's limit lies below); marks the lanes whose |hi| + 2^emin is inexact
  //              in binary32 (sr_offset_bits: 2^emin's bits);
  //   subnormal: also nbits >= 23 (k >= 0 at every spacing up to 2^23); marks m in
  //              [1, subnormal_m_min): below 2q (and where the scale leaves the range);
  //   tiny:      the subnormal step, deciding below 2q apart; marks m in [mark_lo, mark_hi),
  //              where the scale leaves the range (bf16-like formats far below 2^-100;
  //              usually empty).
  bool sr_normal_usable, sr_offset_usable, sr_subnormal_usable;
  std::uint32_t sr_normal_m_min, sr_subnormal_m_min, sr_tiny_mark_lo, sr_tiny_mark_hi;
  float sr_tiny_scale[2];        // their product: 2^nbits / q, each factor a binary32 number
  float sr_two_nbits_f;          // 2^nbits
  std::uint32_t sr_nbits_mask;   // 2^nbits - 1
  int sr_k;
  std::uint32_t sr_rem_mask, sr_low_mask, sr_half_unit;  // 2^spacing - 1, 2^k - 1, 2^(spacing - 1)
  std::uint32_t sr_scale_offset;  // (24 + k) << 23
  std::int32_t sr_max_base;       // max_bits - sr_half_unit: the next grid point passes max_finite
  float sr_two_k;                 // 2^k
  std::int32_t sr_offset_bits;    // 2^emin
};

inline Float32Grid float32_grid(const Rounder& R) {
  auto bits_of = [](float v) {
    std::int32_t b;
    std::memcpy(&b, &v, sizeof b);
    return b;
  };
  const float q = std::ldexp(1.0f, R.emin - R.precision + 1);
  Float32Grid grid;
  grid.spacing = 25 - R.precision;
  grid.emin_field = R.emin + 127;
  grid.max_bits = bits_of(static_cast<float>(R.max_finite));
  grid.q_bits = bits_of(q);
  grid.two_q_bits = bits_of(2 * q);
  grid.m_half_q = 2 * bits_of(q / 2);
  grid.m_q = 2 * grid.q_bits;
  grid.m_three_half_q = 2 * bits_of(1.5f * q);
  grid.rne_offset = ((24 - R.precision) << 23) | 0x400000;
  grid.rne_c_min = ((R.emin - R.precision + 24 + 127) << 23) | 0x400000;
  const std::int32_t c_limit = ((231 + R.precision) << 23) - 1;  // v's field + 24 - p <= 254
  grid.rne_limit = grid.max_bits < c_limit ? grid.max_bits : c_limit;
  grid.nbits = R.sr_bits;
  grid.sr_scale = std::ldexp(1.0, -R.sr_bits);
  grid.sr_k = grid.nbits - grid.spacing;
  grid.sr_normal_usable = grid.sr_k >= 0 && grid.sr_k <= 23;
  grid.sr_subnormal_usable = grid.sr_normal_usable && grid.nbits >= 23;
  const int k = grid.sr_normal_usable ? grid.sr_k : 0;
  // The scale's exponent field is field - 24 - k, at least 1; in the subnormal range
  // (k = nbits - spacing - below) it is emin_field + spacing - nbits - 24 throughout.
  const int scale_field = k + 25;
  const bool subnormal_scale_ok = grid.emin_field + grid.spacing - grid.nbits - 24 >= 1;
  const int tiny_field = std::max(0, grid.emin_field - 23 + grid.spacing);  // spacing_in_m's tiny below it
  grid.sr_normal_m_min = static_cast<std::uint32_t>(std::max(grid.emin_field, scale_field)) << 24;
  grid.sr_offset_usable = grid.sr_normal_usable && grid.emin_field >= scale_field;
  grid.sr_offset_bits = grid.emin_field << 23;
  grid.sr_tiny_mark_lo = static_cast<std::uint32_t>(tiny_field) << 24;
  grid.sr_tiny_mark_hi = subnormal_scale_ok ? grid.sr_tiny_mark_lo : grid.sr_normal_m_min;
  grid.sr_subnormal_m_min = std::max(grid.sr_tiny_mark_hi, std::uint32_t{1} << 24);
  const int log2_scale = grid.nbits - (R.emin - R.precision + 1);  // 2^nbits / q, at most 32 + 148
  grid.sr_tiny_scale[0] = std::ldexp(1.0f, std::min(log2_scale, 120));
  grid.sr_tiny_scale[1] = std::ldexp(1.0f, log2_scale - std::min(log2_scale, 120));
  grid.sr_two_nbits_f = std::ldexp(1.0f, grid.nbits);
  grid.sr_nbits_mask = grid.nbits >= 32 ? 0xffffffffu : (std::uint32_t{1} << grid.nbits) - 1;
  grid.sr_rem_mask = (std::uint32_t{1} << grid.spacing) - 1;
  grid.sr_low_mask = (std::uint32_t{1} << k) - 1;
  grid.sr_half_unit = std::uint32_t{1} << (grid.spacing - 1);
  grid.sr_scale_offset = static_cast<std::uint32_t>(24 + k) << 23;
  grid.sr_max_base = grid.max_bits - static_cast<std::int32_t>(grid.sr_half_unit);
  grid.sr_two_k = std::ldexp(1.0f, k);
  return grid;
}

}  // namespace mpcore::cpu::simd
