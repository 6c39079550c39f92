// Correct rounding of an exact value hi + lo (a TwoSum pair) to a Format.
//
// The exact value is never rounded twice: hi = fl64(x) decides the candidate
// neighbours by integer operations on its bits (as CPFloat does), and the sign
// of the exact error lo breaks the only cases hi alone cannot decide, when hi is
// itself a point of the target grid or a midpoint between two (both are
// binary64 numbers for every supported format, so the open interval between
// consecutive binary64 numbers holds neither).
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "config.hpp"
#include "format.hpp"

namespace mpcore {

enum class Rounding : int {
  NearestEven = 0,  // "rne": nearest, ties to even
  NearestAway = 1,  // "rna": nearest, ties away from zero
  TowardZero = 2,   // "rtz"
  Upward = 3,       // "rup": toward +inf
  Downward = 4,     // "rdn": toward -inf
  ToOdd = 5,        // "rto": toward zero, then set the last bit if inexact
  Stochastic = 6,   // "sr": up with probability (distance to the lower neighbour) / spacing
};

inline constexpr int kMaxStochasticBits = 52;

// Calls f(std::integral_constant<Rounding, M>{}) for M == mode, M among Modes: a kernel
// templated on the mode gets one instantiation per mode it lists (host code).
template <Rounding... Modes, class F>
void with_rounding(Rounding mode, F&& f) {
  const bool found = ((mode == Modes ? (f(std::integral_constant<Rounding, Modes>{}), true) : false) || ...);
  (void)found;  // callers pass a mode they support
}

// The same over all seven modes.
template <class F>
void with_any_rounding(Rounding mode, F&& f) {
  with_rounding<Rounding::NearestEven, Rounding::NearestAway, Rounding::TowardZero, Rounding::Upward,
                Rounding::Downward, Rounding::ToOdd, Rounding::Stochastic>(mode, static_cast<F&&>(f));
}

// A Format and a rounding mode, prepared for the hot loop.
struct Rounder {
  Rounding mode;
  int precision;
  int emin;
  bool subnormals;
  int normal_shift;          // 53 - p: binary64 significand bits dropped in the normal range
  int sr_bits;               // R: random bits per stochastic decision, 1..52
  std::uint64_t max_bits;    // bit pattern of max_finite
  double max_finite;
  double overflow_value;     // magnitude that overflow and infinite inputs become
};

MPCORE_HD inline Rounder make_rounder(const Format& f, Rounding mode,
                                      int sr_bits = kMaxStochasticBits) {
  Rounder r{};
  r.mode = mode;
  r.precision = f.precision;
  r.emin = f.emin;
  r.subnormals = f.subnormals;
  r.normal_shift = 53 - f.precision;
  r.sr_bits = sr_bits < 1 ? 1 : (sr_bits > kMaxStochasticBits ? kMaxStochasticBits : sr_bits);
  r.max_bits = detail::to_bits(f.max_finite);
  r.max_finite = f.max_finite;
  switch (f.overflow) {
    case Overflow::Inf: r.overflow_value = HUGE_VAL; break;
    case Overflow::Saturate: r.overflow_value = f.max_finite; break;
    default: r.overflow_value = detail::from_bits(0x7ff8000000000000ull); break;
  }
  return r;
}

namespace detail {

// |x| = inf, on the bits (no <cmath> classification, the same on host and device).
MPCORE_HD inline bool is_infinite(double x) { return (to_bits(x) & ~kSignBit) == kExponentMask; }

// Exponent-field bits of 2^e for any e >= -1074.
MPCORE_HD inline std::uint64_t pow2_bits(int e) {
  return e >= -1022 ? static_cast<std::uint64_t>(e + 1023) << 52
                    : std::uint64_t{1} << (e + 1074);
}

}  // namespace detail

// Round the exact value hi + lo (|lo| <= ulp(hi)/2, as TwoSum gives) to R's
// format. `random` supplies the bits for stochastic rounding (ignored otherwise).
MPCORE_HD inline double round_sum(double hi, double lo, const Rounder& R, std::uint64_t random) {
  using namespace detail;
  const std::uint64_t hb = to_bits(hi);
  const std::uint64_t sign = hb & kSignBit;
  std::uint64_t m = hb ^ sign;  // magnitude bits
  if (m >= kExponentMask) {
    if (m > kExponentMask) return hi;  // NaN stays NaN
    return sign ? -R.overflow_value : R.overflow_value;
  }
  // From here the exact magnitude lies in [val(m), val(m+1)); `sticky` says it
  // lies strictly inside. A lo of the opposite sign moves it below val(m).
  bool sticky = false;
  const bool lo_opposite = lo != 0.0 && (to_bits(lo) & kSignBit) != sign;
  if (lo != 0.0) {
    sticky = true;
    if (lo_opposite) m -= 1;
  }
  const int e_field = static_cast<int>(m >> kMantissaBits);
  const int e_eff = e_field ? e_field : 1;
  const int exponent = e_eff - kExponentBias;  // of the leading bit (normal case)
  const int ulp_exponent = e_eff - 1075;       // binary64 ulp at m: val(m) = integer * 2^this
  // d: how many binary64 ulps-bits the target's spacing is above binary64's.
  int d;
  if (exponent >= R.emin)
    d = R.normal_shift;
  else if (R.subnormals)
    d = R.normal_shift + (R.emin - exponent);
  else
    d = R.emin - ulp_exponent;

  std::uint64_t base, step;  // candidates: base and base + step (magnitude bits)
  bool inexact, above_half, tie, odd;
  std::uint64_t fraction_bits;  // floor(fraction * 2^R), for stochastic rounding
  const int nbits = R.sr_bits;

  if (d <= 0) {
    // The target is as fine as binary64 here (p = 53): the neighbours are m and m+1,
    // and only lo knows where the exact value lies between them.
    base = m;
    step = 1;
    inexact = sticky;
    odd = (m & 1) != 0;
    const double gap = from_bits(m + 1) - from_bits(m);
    const double alo = lo < 0 ? -lo : lo;
    // distance above val(m) is alo (lo same sign) or gap - alo (lo opposite).
    above_half = sticky && (lo_opposite ? 2 * alo < gap : 2 * alo > gap);
    tie = sticky && 2 * alo == gap;
    fraction_bits = 0;
    if (R.mode == Rounding::Stochastic && sticky) {
      const double scaled = alo / gap * pow2(nbits);  // exact: powers of two
      fraction_bits = lo_opposite
                          ? (std::uint64_t{1} << nbits) - static_cast<std::uint64_t>(std::ceil(scaled))
                          : static_cast<std::uint64_t>(std::floor(scaled));
    }
  } else if (d <= kMantissaBits) {
    // Target spacing is 2^d binary64 ulps and the leading bit stays in place, so
    // rounding is integer arithmetic on the bit pattern (a carry into the exponent
    // field is the correct move to the next binade).
    const std::uint64_t mask = (std::uint64_t{1} << d) - 1;
    const std::uint64_t rem = m & mask;
    const std::uint64_t half = std::uint64_t{1} << (d - 1);
    base = m - rem;
    step = std::uint64_t{1} << d;
    inexact = rem != 0 || sticky;
    above_half = rem > half || (rem == half && sticky);
    tie = rem == half && !sticky;
    // The last kept bit; at d = 52 it is the hidden bit, not the exponent field's.
    odd = d < kMantissaBits ? ((m >> d) & 1) != 0 : e_field != 0;
    fraction_bits = 0;
    if (R.mode == Rounding::Stochastic) {
      if (d >= nbits) {
        fraction_bits = rem >> (d - nbits);
      } else {
        // Fewer remainder bits than random bits: the rest come from lo.
        std::uint64_t extra = 0;
        if (sticky) {
          const int k = nbits - d;
          const double alo = lo < 0 ? -lo : lo;
          const double scaled = std::ldexp(alo, k - ulp_exponent);  // alo in units of 2^(ulp_exponent-k)
          extra = lo_opposite ? (std::uint64_t{1} << k) - static_cast<std::uint64_t>(std::ceil(scaled))
                              : static_cast<std::uint64_t>(std::floor(scaled));
        }
        fraction_bits = (rem << (nbits - d)) | extra;
      }
    }
  } else {
    // The target spacing 2^Q exceeds the leading bit: the candidates are 0 and 2^Q.
    const std::uint64_t sig = e_field ? ((m & kMantissaMask) | (std::uint64_t{1} << kMantissaBits)) : m;
    const std::uint64_t half53 = std::uint64_t{1} << kMantissaBits;
    base = 0;
    step = pow2_bits(ulp_exponent + d);
    inexact = sig != 0 || sticky;
    above_half = d == 53 && (sig > half53 || (sig == half53 && sticky));
    tie = d == 53 && sig == half53 && !sticky;
    odd = false;
    fraction_bits = (d - nbits >= 64) ? 0 : (sig >> (d - nbits));
  }

  bool up;
  switch (R.mode) {
    case Rounding::NearestEven: up = above_half || (tie && odd); break;
    case Rounding::NearestAway: up = above_half || tie; break;
    case Rounding::TowardZero: up = false; break;
    case Rounding::Upward: up = inexact && !sign; break;
    case Rounding::Downward: up = inexact && sign; break;
    case Rounding::ToOdd: up = inexact && !odd; break;
    default: up = (random >> (64 - nbits)) < fraction_bits; break;
  }
  const std::uint64_t out = base + (up ? step : 0);
  if (out > R.max_bits) {
    // The rounding with unbounded exponent left the finite range.
    const bool away = R.mode == Rounding::NearestEven || R.mode == Rounding::NearestAway ||
                      R.mode == Rounding::Stochastic ||
                      (R.mode == Rounding::Upward && !sign) || (R.mode == Rounding::Downward && sign);
    const double v = away ? R.overflow_value : R.max_finite;
    return sign ? -v : v;
  }
  return from_bits(out | sign);
}

// Round one value (exact input) to the format.
MPCORE_HD inline double round_value(double x, const Rounder& R, std::uint64_t random = 0) {
  return round_sum(x, 0.0, R, random);
}

namespace detail {

// round(s + p) for finite s, p whose binary64 sum overflowed: the exact sum is finite, at
// least 2^1024 - 2^970 in magnitude, so both operands are at least 2^970 and halving them is
// exact. The halves' sum is rounded on the format's grid halved (emin - 1, max_finite / 2),
// then doubled, exactly: a clamp to max_finite where the mode clamps (rtz, rto, directed
// toward zero), the overflow value where it rounds away, SR's draw between the two.
MPCORE_HD inline double add_rounded_past_binary64(double s, double p, const Rounder& R, std::uint64_t random) {
  Rounder half = R;
  half.emin -= 1;
  half.max_finite = R.max_finite * 0.5;
  half.max_bits = to_bits(half.max_finite);
  half.overflow_value = R.overflow_value * 0.5;  // inf and NaN stay; a saturation value halves
  const double a = s * 0.5, b = p * 0.5;
  const double hi = a + b;
  const double back = hi - a;
  const double lo = (a - (hi - back)) + (b - back);
  return round_sum(hi, lo, half, random) * 2.0;
}

}  // namespace detail

// round(s + p) with one rounding of the exact sum (Knuth's TwoSum gives it exactly).
MPCORE_HD inline double add_rounded(double s, double p, const Rounder& R, std::uint64_t random) {
  const double hi = s + p;
  if (detail::is_infinite(hi) && !detail::is_infinite(s) && !detail::is_infinite(p))
    return detail::add_rounded_past_binary64(s, p, R, random);
  const double back = hi - s;
  const double lo = (s - (hi - back)) + (p - back);
  // IEEE: an exact zero sum of operands of opposite sign is -0 only when rounding downward.
  if (hi == 0.0 && R.mode == Rounding::Downward &&
      ((detail::to_bits(s) ^ detail::to_bits(p)) & detail::kSignBit))
    return -0.0;
  return round_sum(hi, lo, R, random);
}


// add_rounded for the common case, without data-dependent branches: the exact
// sum lies in the target's normal range and rounds to a finite value. Any other
// case (zero, subnormal, overflow, inf/NaN, p = 53, or stochastic rounding that
// needs bits of lo) sets `special`, and the caller must use add_rounded. Where
// `special` is false the result equals add_rounded's bit for bit (tested).
template <Rounding Mode>
MPCORE_HD inline double add_rounded_normal(double s, double p, const Rounder& R, std::uint64_t random,
                                           bool& special) {
  using namespace detail;
  if (R.normal_shift < 1) {  // p = 53: the shifts below would be undefined
    special = true;
    return 0.0;
  }
  const double hi = s + p;
  const double back = hi - s;
  const double lo = (s - (hi - back)) + (p - back);
  const std::uint64_t hb = to_bits(hi), lb = to_bits(lo);
  const std::uint64_t sign = hb & kSignBit;
  const bool sticky = lo != 0.0;
  const std::uint64_t m = (hb ^ sign) - static_cast<std::uint64_t>(sticky & (((hb ^ lb) >> 63) != 0));
  const int d = R.normal_shift;
  const std::uint64_t mask = (std::uint64_t{1} << d) - 1, half = std::uint64_t{1} << (d - 1);
  const std::uint64_t rem = m & mask, base = m - rem;
  const bool inexact = (rem != 0) | sticky;
  const bool above = (rem > half) | ((rem == half) & sticky);
  const bool tie = (rem == half) & !sticky;
  const bool odd = ((m >> d) & 1) != 0;
  bool up, needs_lo = false;
  if constexpr (Mode == Rounding::NearestEven) up = above | (tie & odd);
  else if constexpr (Mode == Rounding::NearestAway) up = above | tie;
  else if constexpr (Mode == Rounding::TowardZero) up = false;
  else if constexpr (Mode == Rounding::Upward) up = inexact & (sign == 0);
  else if constexpr (Mode == Rounding::Downward) up = inexact & (sign != 0);
  else if constexpr (Mode == Rounding::ToOdd) up = inexact & !odd;
  else {
    const int nbits = R.sr_bits;
    needs_lo = (d < nbits) & sticky;
    const std::uint64_t frac = d >= nbits ? rem >> (d - nbits) : rem << (nbits - d);
    up = (random >> (64 - nbits)) < frac;
  }
  const std::uint64_t out = base + (static_cast<std::uint64_t>(up) << d);
  const std::uint64_t min_normal = static_cast<std::uint64_t>(R.emin + kExponentBias) << kMantissaBits;
  // A non-finite hi (an infinite term, or binary64 overflow) leaves lo NaN: the exact step decides.
  special = (m < min_normal) | (out > R.max_bits) | ((hb & kExponentMask) == kExponentMask) | needs_lo;
  return from_bits(out | sign);
}

}  // namespace mpcore
