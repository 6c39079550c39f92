// Which CPU kernel a matmul takes: native FMA chains, binary32 or binary64 lanes, or the
// generic scalar code. Every path gives the same bits; the choice is speed only.
#pragma once

#include <type_traits>

#include "../layer/matmul_options.hpp"
#include "stored.hpp"
#if !defined(__CUDACC__)  // nvcc's front end lacks GCC's vector extensions
#include "float32_exact.hpp"
#include "lanes/grids.hpp"
#endif

namespace mpcore::cpu {

// Which kernel a call takes (reported by benchmarks and tests; the names are those Python
// sees): hardware fp32 / fp64 FMA chains ("native32", "native64"), the simulated
// accumulator in binary64 vector lanes ("lanes") or in binary32 lanes ("lanes32": float
// inputs whose products are exact in binary32, which matmul checks on the data, else
// "lanes"), or the scalar accumulate() of accumulator.hpp ("generic").
enum class Path { NativeFp32, NativeFp64, Lanes, Generic, Lanes32 };

// Whether the binary32 lane kernel rounds to these options (the data is checked apart).
template <class T>
bool float32_lanes_support(const MatmulOptions& o) {
#if !defined(__CUDACC__)
  return std::is_same_v<T, float> && simd::supports_float32(make_rounder(o.acc, o.rounding, o.sr_bits));
#else
  (void)o;
  return false;
#endif
}

// A forced path falls back to one that gives the model's bits for these options.
template <class T>
Path usable_path(Path p, const MatmulOptions& o) {
#if !defined(__CUDACC__)
  // Blocked and pairwise orders run in the vector lanes too (not natively).
  if (o.order != Order::Sequential) {
    if (p == Path::Generic || !simd::supports(o.acc, o.rounding)) return Path::Generic;
    return p == Path::Lanes32 && float32_lanes_support<T>(o) ? p : Path::Lanes;
  }
#endif
  if (o.order != Order::Sequential) return Path::Generic;
  if (p == Path::Lanes32 && !float32_lanes_support<T>(o)) p = Path::Lanes;
  if (p == Path::NativeFp32 && (sizeof(T) != sizeof(float) || !(o.acc == formats::fp32))) p = Path::Lanes;
  if (p == Path::NativeFp64 && !(o.acc == formats::fp64)) p = Path::Lanes;
  if ((p == Path::NativeFp32 || p == Path::NativeFp64) && o.rounding != Rounding::NearestEven)
    p = Path::Lanes;
  return p;
}

// The path for these options before the data is seen (Lanes32 may still become
// Lanes: see data_path).
template <class T>
Path choose_path(const MatmulOptions& o) {
  if (o.order != Order::Sequential) return usable_path<T>(Path::Lanes32, o);
  if (o.rounding == Rounding::NearestEven && o.acc == formats::fp64) return Path::NativeFp64;
  if (o.rounding == Rounding::NearestEven && o.acc == formats::fp32 && sizeof(T) == sizeof(float))
    return Path::NativeFp32;
  return usable_path<T>(Path::Lanes32, o);
}

struct Float32Digest;

// Lanes32 only where every product of a value of x and a value of w is exact in
// binary32 (the digests are of all of x and all of w, so any pair qualifies). w_digest:
// W's digest where it is known (a prepared layer's), else it is computed here.
template <class T>
Path data_path(Path p, const StoredMatrix& x, const StoredMatrix& w, const Float32Digest* w_digest = nullptr) {
#if !defined(__CUDACC__)
  if constexpr (std::is_same_v<T, float>) {
    if (p == Path::Lanes32 && !products_exact_in_float32(digest(x), w_digest ? *w_digest : digest(w)))
      return Path::Lanes;
    return p;
  }
#endif
  (void)x, (void)w, (void)w_digest;
  return p == Path::Lanes32 ? Path::Lanes : p;
}

}  // namespace mpcore::cpu
