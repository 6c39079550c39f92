// When a binary32 container can hold every step of a simulated accumulation exactly.
//
// The float32 lane kernel (lanes/step32-inl.hpp) computes each term w*x in binary32 and
// the exact sum s + w*x as a binary32 TwoSum pair. TwoSum is exact for any two finite
// binary32 numbers whose rounded sum does not overflow (overflow is caught per lane),
// so the one condition to prove is that every product is exact in binary32:
//   - significands: a product of an a-bit and a b-bit significand has at most a + b
//     bits, so a + b <= 24 suffices;
//   - range: each nonzero product must be a normal binary32 number (its 24-bit grid
//     then holds it), i.e. |w||x| >= 2^-126 for the smallest nonzero factors, and
//     finite, i.e. below 2^127 for the largest (a margin that also keeps s + w*x
//     from overflowing unless the format's own range does).
// Zeros are always exact; subnormal, infinite or NaN inputs disqualify (the double
// container handles them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <vector>

#include "lanes/isa.hpp"
#include "stored.hpp"

namespace mpcore::cpu {

// What the exactness proof needs to know about a set of binary32 values.
struct Float32Digest {
  std::uint32_t significands = 0;  // OR of the significands (with the leading 1) of nonzero values
  int min_field = 255;             // smallest / largest exponent field of nonzero values
  int max_field = 0;
  bool unsupported = false;        // a subnormal, infinite or NaN value

  bool all_zero() const { return significands == 0; }
  // Significand bits the widest value needs: 24 minus the trailing zeros common to all.
  int bits() const { return all_zero() ? 0 : 24 - __builtin_ctz(significands); }
};

__attribute__((always_inline)) inline Float32Digest digest_body(const float* v, std::size_t n) {
  std::uint32_t sig = 0, bad = 0;
  std::uint32_t lo = 255, hi = 0;
  for (std::size_t i = 0; i < n; ++i) {  // branch-free, so the compiler vectorises it
    std::uint32_t b;
    std::memcpy(&b, v + i, sizeof b);
    const std::uint32_t a = b & 0x7fffffffu, field = a >> 23;
    const std::uint32_t nonzero = a != 0 ? 0xffffffffu : 0u;
    sig |= ((a & 0x7fffffu) | 0x800000u) & nonzero;
    const std::uint32_t f = field | (~nonzero & 255u);  // zeros do not lower the minimum
    lo = f < lo ? f : lo;
    hi = field > hi ? field : hi;
    bad |= ((field == 0) & (a != 0)) | (field == 255);
  }
  Float32Digest d;
  d.significands = sig;
  d.min_field = static_cast<int>(lo);
  d.max_field = static_cast<int>(hi);
  d.unsupported = bad != 0;
  return d;
}

inline Float32Digest digest_portable(const float* v, std::size_t n) { return digest_body(v, n); }
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) inline Float32Digest digest_avx2(const float* v, std::size_t n) {
  return digest_body(v, n);
}
#endif

// The digest of v[0..n): one pass, in AVX2 where the CPU has it (W may be large).
inline Float32Digest digest(const float* v, std::size_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (active_isa() != Isa::Portable) return digest_avx2(v, n);
#endif
  return digest_portable(v, n);
}

// The digest of the union of two sets.
inline Float32Digest merged(const Float32Digest& a, const Float32Digest& b) {
  Float32Digest d;
  d.significands = a.significands | b.significands;
  d.min_field = a.min_field < b.min_field ? a.min_field : b.min_field;
  d.max_field = a.max_field > b.max_field ? a.max_field : b.max_field;
  d.unsupported = a.unsupported || b.unsupported;
  return d;
}

// The digest of every value of a (narrow: binary32 values), a row at a time.
inline Float32Digest digest(const StoredMatrix& a) {
  Float32Digest d;
  std::vector<float> row(a.storage == Storage::Float32 && a.col_stride == 1 ? 0 : a.cols);
  for (std::size_t i = 0; i < a.rows; ++i) {
    const float* v = static_cast<const float*>(a.data) + static_cast<std::ptrdiff_t>(i) * a.row_stride;
    if (!row.empty()) {
      a.copy_row(i, 0, a.cols, row.data());
      v = row.data();
    }
    d = merged(d, digest(v, a.cols));
  }
  return d;
}

// Whether every product of a value of `a` and a value of `b` is exact in binary32.
inline bool products_exact_in_float32(const Float32Digest& a, const Float32Digest& b) {
  if (a.unsupported || b.unsupported) return false;
  if (a.all_zero() || b.all_zero()) return true;
  // Fields f, g: |w| >= 2^(f-127), |x| >= 2^(g-127), and |w| < 2^(f-126), |x| < 2^(g-126).
  return a.bits() + b.bits() <= 24 && a.min_field + b.min_field - 254 >= -126 &&
         a.max_field + b.max_field - 252 <= 127;
}

}  // namespace mpcore::cpu
