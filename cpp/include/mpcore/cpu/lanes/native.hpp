// The native kernels: fp32 / fp64 accumulation with round-to-nearest-even is the
// hardware's own arithmetic (one fma per term), vectorised across kWidth outputs.
#pragma once

#include <cstddef>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "../../config.hpp"
#include "grids.hpp"
#include "isa.hpp"

namespace mpcore::cpu::simd {

#if defined(__x86_64__) && defined(__GNUC__)
// The native paths with hardware FMA (an AVX2 machine has it; baseline x86-64 code
// would call the library's fma per term). vfmadd rounds a*b + c once, as fma does.
__attribute__((target("avx2,fma"))) inline void native_fp32_avx2(const float* xr, const float* panel, std::size_t n,
                                                                  double* out) {
  static_assert(kWidth % 8 == 0, "lanes come in groups of 8 floats");
  constexpr std::size_t G = kWidth / 8;
  __m256 s[G];
  for (std::size_t g = 0; g < G; ++g) s[g] = _mm256_setzero_ps();
  for (std::size_t j = 0; j < n; ++j) {
    const __m256 xj = _mm256_set1_ps(xr[j]);
    for (std::size_t g = 0; g < G; ++g) s[g] = _mm256_fmadd_ps(_mm256_loadu_ps(panel + j * kWidth + g * 8), xj, s[g]);
  }
  float tmp[kWidth];
  for (std::size_t g = 0; g < G; ++g) _mm256_storeu_ps(tmp + g * 8, s[g]);
  for (std::size_t l = 0; l < kWidth; ++l) out[l] = tmp[l];
}

// fp64 accumulation: fma of exact float products, or (double inputs) the product rounded
// first and then added, as the scalar path does.
template <class T>
__attribute__((target("avx2,fma"))) void native_fp64_avx2(const T* xr, const T* panel, std::size_t n, double* out) {
  constexpr std::size_t G = kWidth / 4;
  __m256d s[G];
  for (std::size_t g = 0; g < G; ++g) s[g] = _mm256_setzero_pd();
  for (std::size_t j = 0; j < n; ++j) {
    const __m256d xj = _mm256_set1_pd(static_cast<double>(xr[j]));
    for (std::size_t g = 0; g < G; ++g) {
      __m256d wv;
      if constexpr (sizeof(T) == sizeof(float)) {
        wv = _mm256_cvtps_pd(_mm_loadu_ps(panel + j * kWidth + g * 4));
        s[g] = _mm256_fmadd_pd(wv, xj, s[g]);
      } else {
        wv = _mm256_loadu_pd(panel + j * kWidth + g * 4);
        __m256d p = _mm256_mul_pd(wv, xj);
        __asm__("" : "+v"(p));  // rounded once, then added: never one fma (opaque() of config.hpp, here
                                 // so that Clang sizes the operand with AVX enabled)
        s[g] = _mm256_add_pd(s[g], p);
      }
    }
  }
  for (std::size_t g = 0; g < G; ++g) _mm256_storeu_pd(out + g * 4, s[g]);
}
#endif

// The native kernels for a panel (fp32 FMA chains of float inputs, or fp64 ones): true when
// a vector version ran.
template <bool Fp32, class T>
bool native_panel(const T* xr, const T* panel, std::size_t n, double* out) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (active_isa() != Isa::Portable) {
    if constexpr (Fp32) {
      native_fp32_avx2(xr, panel, n, out);
    } else {
      native_fp64_avx2(xr, panel, n, out);
    }
    return true;
  }
#endif
  (void)xr, (void)panel, (void)n, (void)out;
  return false;
}

}  // namespace mpcore::cpu::simd
