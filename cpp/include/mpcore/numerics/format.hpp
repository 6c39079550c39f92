// Binary floating-point formats narrower than or equal to IEEE binary64.
//
// A format is described by its significand precision p (hidden bit included),
// its normal exponent range [emin, emax], whether it has subnormals, its
// largest finite value and what happens on overflow. Every value of every
// format is exactly representable in binary64, which is what lets the
// rounding code work on the bits of a double.
#pragma once

#include <cfloat>
#include <cstdint>
#include <string>

#include "../config.hpp"

namespace mpcore {

// What a result whose rounded magnitude exceeds max_finite becomes.
enum class Overflow : int {
  Inf = 0,       // +-infinity (IEEE formats)
  Saturate = 1,  // +-max_finite (formats without inf or NaN, e.g. fp4_e2m1)
  NaN = 2,       // NaN (OCP "fn" formats with NaN but no inf, e.g. fp8_e4m3)
};

MPCORE_HD constexpr double pow2(int e) {
  double r = 1.0;
  for (; e > 0; --e) r *= 2.0;
  for (; e < 0; ++e) r *= 0.5;  // exact down to 2^-1074
  return r;
}

struct Format {
  int precision;      // p: significand bits including the hidden bit, 1..53
  int emin;           // exponent of the smallest normal number, 2^emin
  int emax;           // exponent of the largest binade
  bool subnormals;    // gradual underflow below 2^emin (else the grid there is {0, 2^emin})
  double max_finite;  // largest finite value; below (2 - 2^(1-p)) 2^emax for "fn" formats
  Overflow overflow;  // what overflow produces
  int bits;           // storage width in bits (for cost models)

  MPCORE_HD constexpr double unit_roundoff() const { return pow2(-precision); }
  MPCORE_HD constexpr double smallest_normal() const { return pow2(emin); }
  MPCORE_HD constexpr double smallest_subnormal() const {
    return subnormals ? pow2(emin - precision + 1) : pow2(emin);
  }
  // (2 - 2^(1-p)) * 2^emax: the largest value the exponent range allows.
  MPCORE_HD constexpr double binade_max() const {
    return (2.0 - pow2(1 - precision)) * pow2(emax);
  }
  MPCORE_HD constexpr bool operator==(const Format& o) const {
    return precision == o.precision && emin == o.emin && emax == o.emax &&
           subnormals == o.subnormals && max_finite == o.max_finite &&
           overflow == o.overflow && bits == o.bits;
  }
  MPCORE_HD constexpr bool operator!=(const Format& o) const { return !(*this == o); }
};

// Storage bits of a sign-exponent-significand encoding with this range: one
// sign bit, p-1 stored significand bits, and enough exponent bits for the
// emax-emin+1 normal binades plus the zero/subnormal code (plus the inf/NaN
// code for IEEE-like formats, which the "+2" covers when it needs one).
inline int storage_bits(int precision, int emin, int emax) {
  int codes = emax - emin + 2, ebits = 0;
  while ((1 << ebits) < codes) ++ebits;
  return 1 + ebits + precision - 1;
}

// Empty string when f is a valid format, else what is wrong with it.
inline std::string validate(const Format& f) {
  if (f.precision < 1 || f.precision > 53) return "precision must be in 1..53";
  if (f.emin > f.emax) return "emin must not exceed emax";
  if (f.emax > 1023) return "emax must be at most 1023 (binary64 range)";
  if (f.emin - f.precision + 1 < -1074 || f.emin < -1022)
    return "emin too small: the format's values must be binary64 normal or subnormal numbers";
  if (!(f.max_finite > 0) || f.max_finite > f.binade_max())
    return "max_finite must be positive and at most (2 - 2^(1-p)) * 2^emax";
  if (f.max_finite < f.smallest_normal()) return "max_finite must be at least 2^emin";
  // max_finite must be a value of the format: p significant bits in a binade >= emin.
  {
    double m = f.max_finite;
    while (m >= 2.0) m *= 0.5;
    while (m < 1.0) m *= 2.0;
    double scaled = m * pow2(f.precision - 1);
    if (scaled != static_cast<double>(static_cast<std::uint64_t>(scaled)))
      return "max_finite is not representable with this precision";
  }
  if (f.overflow != Overflow::Inf && f.overflow != Overflow::Saturate && f.overflow != Overflow::NaN)
    return "unknown overflow policy";
  if (f.bits < 1 || f.bits > 64) return "bits must be in 1..64";
  return {};
}

namespace formats {

// IEEE binary64: 1 sign, 11 exponent, 52 fraction bits; bias 1023.
inline constexpr Format fp64{53, -1022, 1023, true, DBL_MAX, Overflow::Inf, 64};
// IEEE binary32: 1 sign, 8 exponent, 23 fraction bits; bias 127; max (2-2^-23) 2^127.
inline constexpr Format fp32{24, -126, 127, true, FLT_MAX, Overflow::Inf, 32};
// NVIDIA TensorFloat-32: fp32's 8-bit exponent with fp16's 10 fraction bits (19 bits used).
inline constexpr Format tf32{11, -126, 127, true, (2.0 - pow2(-10)) * pow2(127), Overflow::Inf, 19};
// bfloat16: 1 sign, 8 exponent, 7 fraction bits; fp32's range; max (2-2^-7) 2^127.
inline constexpr Format bf16{8, -126, 127, true, (2.0 - pow2(-7)) * pow2(127), Overflow::Inf, 16};
// IEEE binary16: 1 sign, 5 exponent, 10 fraction bits; bias 15; max 65504.
inline constexpr Format fp16{11, -14, 15, true, 65504.0, Overflow::Inf, 16};
// OCP fp8 E5M2: 1 sign, 5 exponent, 2 fraction bits; bias 15; IEEE-like with inf; max 57344.
inline constexpr Format fp8_e5m2{3, -14, 15, true, 57344.0, Overflow::Inf, 8};
// OCP fp8 E4M3 ("e4m3fn"): 1 sign, 4 exponent, 3 fraction bits; bias 7; no inf; only
// S.1111.111 is NaN, so the top binade stops at 1.110b * 2^8 = 448; overflow gives NaN
// (as ml_dtypes' cast does).
inline constexpr Format fp8_e4m3{4, -6, 8, true, 448.0, Overflow::NaN, 8};
// OCP MX fp6 E2M3: 1 sign, 2 exponent, 3 fraction bits; bias 1; no inf/NaN; max 7.5; saturates.
inline constexpr Format fp6_e2m3{4, 0, 2, true, 7.5, Overflow::Saturate, 6};
// OCP MX fp6 E3M2: 1 sign, 3 exponent, 2 fraction bits; bias 3; no inf/NaN; max 28; saturates.
inline constexpr Format fp6_e3m2{3, -2, 4, true, 28.0, Overflow::Saturate, 6};
// OCP MX fp4 E2M1: 1 sign, 2 exponent, 1 fraction bit; bias 1; no inf/NaN; max 6; saturates.
inline constexpr Format fp4_e2m1{2, 0, 2, true, 6.0, Overflow::Saturate, 4};

struct Named {
  const char* name;
  Format format;
};

// Widest first.
inline constexpr Named all[] = {
    {"fp64", fp64},         {"fp32", fp32},         {"tf32", tf32},
    {"bf16", bf16},         {"fp16", fp16},         {"fp8_e5m2", fp8_e5m2},
    {"fp8_e4m3", fp8_e4m3}, {"fp6_e2m3", fp6_e2m3}, {"fp6_e3m2", fp6_e3m2},
    {"fp4_e2m1", fp4_e2m1},
};

}  // namespace formats
}  // namespace mpcore
