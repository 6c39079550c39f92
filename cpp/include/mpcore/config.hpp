// Compiler portability for code shared by the CPU and CUDA backends.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define MPCORE_HD __host__ __device__
#else
#define MPCORE_HD
#endif

// Every rounding decision below assumes IEEE binary64 arithmetic with no
// reassociation and no contraction of a*b+c: fast-math would break TwoSum.
#if defined(__FAST_MATH__)
#error "mpcore relies on exact IEEE arithmetic: do not compile it with -ffast-math"
#endif

namespace mpcore::detail {

MPCORE_HD inline std::uint64_t to_bits(double x) {
#if defined(__CUDA_ARCH__)
  return static_cast<std::uint64_t>(__double_as_longlong(x));
#else
  std::uint64_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
#endif
}

MPCORE_HD inline double from_bits(std::uint64_t u) {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(static_cast<long long>(u));
#else
  double x;
  std::memcpy(&x, &u, sizeof x);
  return x;
#endif
}

// Layout of an IEEE binary64 value.
inline constexpr std::uint64_t kSignBit = 0x8000000000000000ull;
inline constexpr std::uint64_t kExponentMask = 0x7ff0000000000000ull;  // also +inf
inline constexpr std::uint64_t kMantissaMask = 0x000fffffffffffffull;
inline constexpr int kMantissaBits = 52;
inline constexpr int kExponentBias = 1023;

}  // namespace mpcore::detail
