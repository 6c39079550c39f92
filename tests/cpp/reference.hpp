// A brute-force reference rounding, independent of mpcore's bit tricks: list every
// finite value of the format and pick the neighbours of x by comparison.
// x must be exact in binary64 (sums of two values of a <= 16-bit format are).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <mpcore/mpcore.hpp>

namespace ref {

// Non-negative finite values of f, ascending (f must have few values).
inline std::vector<double> values(const mpcore::Format& f) {
  std::vector<double> v{0.0};
  const double q = std::ldexp(1.0, f.emin - f.precision + 1);  // subnormal spacing
  const long frac = 1L << (f.precision - 1);
  if (f.subnormals)
    for (long m = 1; m < frac; ++m) v.push_back(m * q);
  for (int e = f.emin; e <= f.emax; ++e)
    for (long m = frac; m < 2 * frac; ++m) {
      const double x = std::ldexp(static_cast<double>(m), e - f.precision + 1);
      if (x <= f.max_finite) v.push_back(x);
    }
  return v;
}

// Correctly rounded x in f under a deterministic mode, from the list of values.
inline double round(double x, const mpcore::Format& f, mpcore::Rounding mode, const std::vector<double>& v) {
  using mpcore::Rounding;
  if (std::isnan(x)) return x;
  const bool neg = std::signbit(x);
  const double a = std::fabs(x);
  // One grid point beyond max_finite, as if the exponent range went on.
  const double top = v.back();
  int e;
  std::frexp(top, &e);
  const double beyond = top + std::ldexp(1.0, e - f.precision);
  auto overflow = [&](bool away) {
    double m = f.max_finite;
    if (away) m = f.overflow == mpcore::Overflow::Inf ? HUGE_VAL
                  : f.overflow == mpcore::Overflow::NaN ? std::numeric_limits<double>::quiet_NaN()
                                                        : f.max_finite;
    return neg ? -m : m;
  };
  if (std::isinf(x)) return overflow(true);
  double lo, hi;
  if (a >= beyond) {
    lo = hi = beyond;
    if (a > beyond) lo = beyond;  // beyond the grid: every mode overflows or clamps
  }
  if (a < beyond) {
    auto it = std::upper_bound(v.begin(), v.end(), a);
    lo = *(it - 1);
    hi = it == v.end() ? beyond : *it;
  } else {
    const bool away_modes = mode == Rounding::NearestEven || mode == Rounding::NearestAway ||
                            (mode == Rounding::Upward && !neg) || (mode == Rounding::Downward && neg);
    return overflow(away_modes);
  }
  double r;
  if (a == lo) {
    r = lo;
  } else {
    const double mid = lo + (hi - lo) / 2;  // exact: binary64 holds it
    // "even": the significand's last bit of lo, from its index in the grid.
    const long idx = std::lower_bound(v.begin(), v.end(), lo) - v.begin();
    const bool lo_even = (idx % 2) == 0;
    switch (mode) {
      case Rounding::NearestEven: r = a < mid ? lo : a > mid ? hi : (lo_even ? lo : hi); break;
      case Rounding::NearestAway: r = a < mid ? lo : hi; break;
      case Rounding::TowardZero: r = lo; break;
      case Rounding::Upward: r = neg ? lo : hi; break;
      case Rounding::Downward: r = neg ? hi : lo; break;
      default: r = lo_even ? hi : lo; break;  // ToOdd
    }
  }
  if (r > f.max_finite) {
    const bool away = mode == Rounding::NearestEven || mode == Rounding::NearestAway ||
                      (mode == Rounding::Upward && !neg) || (mode == Rounding::Downward && neg);
    return overflow(away);
  }
  return neg ? -r : r;
}

}  // namespace ref
