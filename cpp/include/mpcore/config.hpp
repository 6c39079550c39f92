// Compiler portability for code shared by the CPU and CUDA backends.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define MPCORE_HD __host__ __device__
#else
#define MPCORE_HD
#endif

// Inlined into every caller: the vector kernels need their helpers inside the kernel,
// compiled for the kernel's instruction set.
#if defined(__CUDACC__)
#define MPCORE_FORCE_INLINE __forceinline__
#elif defined(__GNUC__) || defined(__clang__)
#define MPCORE_FORCE_INLINE __attribute__((always_inline)) inline
#else
#define MPCORE_FORCE_INLINE inline
#endif

// Unrolls the loop that follows completely (short loops over lane groups and rows), so
// their vectors stay in registers instead of being indexed in memory.
#if defined(__clang__)
#define MPCORE_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define MPCORE_UNROLL _Pragma("GCC unroll 16")
#else
#define MPCORE_UNROLL
#endif

// Keeps the loop that follows rolled (a loop whose unrolled body would not fit the registers).
#if defined(__clang__)
#define MPCORE_NO_UNROLL _Pragma("nounroll")
#elif defined(__GNUC__)
#define MPCORE_NO_UNROLL _Pragma("GCC unroll 1")
#else
#define MPCORE_NO_UNROLL
#endif

// Every rounding decision below assumes IEEE binary64 arithmetic with no
// reassociation and no contraction of a*b+c: fast-math would break TwoSum.
#if defined(__FAST_MATH__)
#error "mpcore relies on exact IEEE arithmetic: do not compile it with -ffast-math"
#endif

namespace mpcore::detail {

// Keeps a value opaque to the optimiser, so a product stored in it is never fused into a
// later addition. Under -ffp-contract=fast (GCC's default outside ISO C, and nvcc's
// --fmad=true) s + w*x may become fma(w, x, s), which rounds differently from the model's
// "product, then one rounded addition" whenever w*x is inexact in binary64, and would break
// TwoSum's error term. An empty asm that takes the value in a register costs nothing.
template <class T>
MPCORE_HD inline void opaque(T& v) {
#if defined(__CUDA_ARCH__)
  (void)v;  // device code forms products with __dmul_rn / __fmul_rn, which are never fused
#elif (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
  __asm__("" : "+v"(v));
#elif (defined(__GNUC__) || defined(__clang__)) && defined(__aarch64__)
  __asm__("" : "+w"(v));
#elif defined(__GNUC__) || defined(__clang__)
  __asm__("" : "+m"(v));  // any other target: through memory, still opaque
#else
  (void)v;  // MSVC contracts only under /fp:fast or /fp:contract
#endif
}

// a * b rounded once to binary64 and never contracted with what follows.
MPCORE_HD inline double unfused_mul(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  double p = a * b;
  opaque(p);
  return p;
#endif
}

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
