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

#include "../config.hpp"
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

// Random bits per stochastic decision at most: one word of the stream (random.hpp).
inline constexpr int kMaxStochasticBits = 32;

#include "decision-inl.hpp"

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
  int sr_bits;               // R: random bits per stochastic decision, 1..32
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

namespace detail {

// Where an exact magnitude lies between its two candidates on R's grid: base (toward
// zero) and base + step, as magnitude bits, and floor(fraction * 2^sr_bits).
struct Candidates {
  std::uint64_t base, step;
  GridPosition<bool> position;
  std::uint64_t fraction_bits;  // stochastic rounding only
};

// The exact magnitude lies in [val(m), val(m+1)), strictly inside if sticky; lo is its
// error term (|lo| < ulp), lo_opposite whether lo's sign differs from the value's.
struct ExactMagnitude {
  std::uint64_t m;
  bool sticky, lo_opposite;
  double abs_lo;
  int ulp_exponent;  // val(m) = integer * 2^ulp_exponent
};

// floor(|lo| / 2^(ulp_exponent - k)) if lo has the value's sign, else
// 2^k - ceil(|lo| / 2^(ulp_exponent - k)): the k bits of the fraction that lo holds below m.
MPCORE_HD inline std::uint64_t bits_below_m(const ExactMagnitude& v, int k) {
  if (!v.sticky) return 0;
  const double scaled = std::ldexp(v.abs_lo, k - v.ulp_exponent);  // a power-of-two scaling, exact
  return v.lo_opposite ? (std::uint64_t{1} << k) - static_cast<std::uint64_t>(std::ceil(scaled))
                       : static_cast<std::uint64_t>(std::floor(scaled));
}

// The target is as fine as binary64 here (p = 53): the candidates are m and m+1, and only
// lo knows where the exact value lies between them.
MPCORE_HD inline Candidates binary64_neighbours(const ExactMagnitude& v, const Rounder& R) {
  Candidates c{};
  c.base = v.m;
  c.step = 1;
  const double gap = from_bits(v.m + 1) - from_bits(v.m);
  // The distance above val(m) is |lo| (lo of the value's sign) or gap - |lo|.
  c.position.inexact = v.sticky;
  c.position.above_half = v.sticky && (v.lo_opposite ? 2 * v.abs_lo < gap : 2 * v.abs_lo > gap);
  c.position.tie = v.sticky && 2 * v.abs_lo == gap;
  c.position.odd = (v.m & 1) != 0;
  if (R.mode == Rounding::Stochastic && v.sticky) {
    const double scaled = v.abs_lo / gap * pow2(R.sr_bits);  // exact: powers of two
    c.fraction_bits = v.lo_opposite
                          ? (std::uint64_t{1} << R.sr_bits) - static_cast<std::uint64_t>(std::ceil(scaled))
                          : static_cast<std::uint64_t>(std::floor(scaled));
  }
  return c;
}

// The target spacing is 2^d binary64 ulps (1 <= d <= 52) and the leading bit stays in
// place, so rounding is integer arithmetic on the bits (a carry into the exponent field is
// the correct move to the next binade).
MPCORE_HD inline Candidates grid_neighbours(const ExactMagnitude& v, int d, const Rounder& R) {
  const std::uint64_t mask = (std::uint64_t{1} << d) - 1;
  const std::uint64_t rem = v.m & mask;
  const std::uint64_t half = std::uint64_t{1} << (d - 1);
  Candidates c{};
  c.base = v.m - rem;
  c.step = std::uint64_t{1} << d;
  c.position.inexact = rem != 0 || v.sticky;
  c.position.above_half = rem > half || (rem == half && v.sticky);
  c.position.tie = rem == half && !v.sticky;
  // The last kept bit; at d = 52 it is the hidden bit, not the exponent field's.
  c.position.odd = d < kMantissaBits ? ((v.m >> d) & 1) != 0 : (v.m >> kMantissaBits) != 0;
  if (R.mode == Rounding::Stochastic) {
    const int nbits = R.sr_bits;
    // Fewer remainder bits than random bits: the rest come from lo.
    c.fraction_bits = d >= nbits ? rem >> (d - nbits) : (rem << (nbits - d)) | bits_below_m(v, nbits - d);
  }
  return c;
}

// The target spacing 2^(ulp_exponent + d) exceeds the leading bit (d > 52): the
// candidates are 0 and that power of two.
MPCORE_HD inline Candidates zero_or_spacing(const ExactMagnitude& v, int d, const Rounder& R) {
  const std::uint64_t field = v.m >> kMantissaBits;
  const std::uint64_t sig = field ? ((v.m & kMantissaMask) | (std::uint64_t{1} << kMantissaBits)) : v.m;
  const std::uint64_t half53 = std::uint64_t{1} << kMantissaBits;
  Candidates c{};
  c.base = 0;
  c.step = pow2_bits(v.ulp_exponent + d);
  c.position.inexact = sig != 0 || v.sticky;
  c.position.above_half = d == 53 && (sig > half53 || (sig == half53 && v.sticky));
  c.position.tie = d == 53 && sig == half53 && !v.sticky;
  c.position.odd = false;
  c.fraction_bits = (d - R.sr_bits >= 64) ? 0 : (sig >> (d - R.sr_bits));
  return c;
}

// The candidates of the finite exact magnitude v on R's grid.
MPCORE_HD inline Candidates candidates(const ExactMagnitude& v, const Rounder& R) {
  const int field = static_cast<int>(v.m >> kMantissaBits);
  const int exponent = (field ? field : 1) - kExponentBias;  // of the leading bit (normal case)
  // d: how many bits the target's spacing is above binary64's.
  int d;
  if (exponent >= R.emin)
    d = R.normal_shift;
  else if (R.subnormals)
    d = R.normal_shift + (R.emin - exponent);
  else
    d = R.emin - v.ulp_exponent;
  if (d <= 0) return binary64_neighbours(v, R);
  if (d <= kMantissaBits) return grid_neighbours(v, d, R);
  return zero_or_spacing(v, d, R);
}

// decision-inl.hpp's rule for a mode known at run time.
MPCORE_HD inline bool rounds_away(Rounding mode, const GridPosition<bool>& g) {
  switch (mode) {
    case Rounding::NearestEven: return mpcore::rounds_away<Rounding::NearestEven>(g);
    case Rounding::NearestAway: return mpcore::rounds_away<Rounding::NearestAway>(g);
    case Rounding::TowardZero: return mpcore::rounds_away<Rounding::TowardZero>(g);
    case Rounding::Upward: return mpcore::rounds_away<Rounding::Upward>(g);
    case Rounding::Downward: return mpcore::rounds_away<Rounding::Downward>(g);
    default: return mpcore::rounds_away<Rounding::ToOdd>(g);
  }
}

// Whether a value past max_finite becomes the overflow value (else max_finite).
MPCORE_HD inline bool overflows_away(Rounding mode, bool negative) {
  return mode == Rounding::NearestEven || mode == Rounding::NearestAway || mode == Rounding::Stochastic ||
         (mode == Rounding::Upward && !negative) || (mode == Rounding::Downward && negative);
}

}  // namespace detail

// Round the exact value hi + lo (|lo| <= ulp(hi)/2, as TwoSum gives) to R's
// format. `random` supplies the bits for stochastic rounding (ignored otherwise).
MPCORE_HD inline double round_sum(double hi, double lo, const Rounder& R, std::uint32_t random) {
  using namespace detail;
  const std::uint64_t hb = to_bits(hi);
  const std::uint64_t sign = hb & kSignBit;
  detail::ExactMagnitude v{};
  v.m = hb ^ sign;
  if (v.m >= kExponentMask) {
    if (v.m > kExponentMask) return hi;  // NaN stays NaN
    return sign ? -R.overflow_value : R.overflow_value;
  }
  // A lo of the opposite sign moves the exact magnitude below val(m).
  v.sticky = lo != 0.0;
  v.lo_opposite = v.sticky && (to_bits(lo) & kSignBit) != sign;
  if (v.lo_opposite) v.m -= 1;
  v.abs_lo = lo < 0 ? -lo : lo;
  const int field = static_cast<int>(v.m >> kMantissaBits);
  v.ulp_exponent = (field ? field : 1) - 1075;
  Candidates c = candidates(v, R);
  c.position.negative = sign != 0;
  const bool up = R.mode == Rounding::Stochastic ? (random >> (32 - R.sr_bits)) < c.fraction_bits
                                                 : detail::rounds_away(R.mode, c.position);
  const std::uint64_t out = c.base + (up ? c.step : 0);
  if (out > R.max_bits) {
    // The rounding with unbounded exponent left the finite range.
    const double big = overflows_away(R.mode, sign != 0) ? R.overflow_value : R.max_finite;
    return sign ? -big : big;
  }
  return from_bits(out | sign);
}

// Round one value (exact input) to the format.
MPCORE_HD inline double round_value(double x, const Rounder& R, std::uint32_t random = 0) {
  return round_sum(x, 0.0, R, random);
}

namespace detail {

// round(s + p) for finite s, p whose binary64 sum overflowed: the exact sum is finite, at
// least 2^1024 - 2^970 in magnitude, so both operands are at least 2^970 and halving them is
// exact. The halves' sum is rounded on the format's grid halved (emin - 1, max_finite / 2),
// then doubled, exactly: a clamp to max_finite where the mode clamps (rtz, rto, directed
// toward zero), the overflow value where it rounds away, SR's draw between the two.
MPCORE_HD inline double add_rounded_past_binary64(double s, double p, const Rounder& R, std::uint32_t random) {
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
MPCORE_HD inline double add_rounded(double s, double p, const Rounder& R, std::uint32_t random) {
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
MPCORE_HD inline double add_rounded_normal(double s, double p, const Rounder& R, std::uint32_t random,
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
  bool up, needs_lo = false;
  if constexpr (Mode == Rounding::Stochastic) {
    const int nbits = R.sr_bits;
    needs_lo = (d < nbits) & sticky;
    const std::uint64_t frac = d >= nbits ? rem >> (d - nbits) : rem << (nbits - d);
    up = (random >> (32 - nbits)) < frac;
  } else {
    GridPosition<bool> g;
    g.inexact = (rem != 0) | sticky;
    g.above_half = (rem > half) | ((rem == half) & sticky);
    g.tie = (rem == half) & !sticky;
    g.odd = ((m >> d) & 1) != 0;
    g.negative = sign != 0;
    up = rounds_away<Mode>(g);
  }
  const std::uint64_t out = base + (static_cast<std::uint64_t>(up) << d);
  const std::uint64_t min_normal = static_cast<std::uint64_t>(R.emin + kExponentBias) << kMantissaBits;
  // A non-finite hi (an infinite term, or binary64 overflow) leaves lo NaN: the exact step decides.
  special = (m < min_normal) | (out > R.max_bits) | ((hb & kExponentMask) == kExponentMask) | needs_lo;
  return from_bits(out | sign);
}

}  // namespace mpcore
