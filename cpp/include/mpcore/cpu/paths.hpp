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

// Which kernel a call takes (reported by benchmarks and tests). Float32Lanes is
// SimulatedLanes in a binary32 container; it needs float inputs whose products are exact
// in binary32, which matmul checks on the data (and otherwise takes SimulatedLanes).
enum class Path { NativeFp32, NativeFp64, SimulatedLanes, Generic, Float32Lanes };

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
    return p == Path::Float32Lanes && float32_lanes_support<T>(o) ? p : Path::SimulatedLanes;
  }
#endif
  if (o.order != Order::Sequential) return Path::Generic;
  if (p == Path::Float32Lanes && !float32_lanes_support<T>(o)) p = Path::SimulatedLanes;
  if (p == Path::NativeFp32 && (sizeof(T) != sizeof(float) || !(o.acc == formats::fp32))) p = Path::SimulatedLanes;
  if (p == Path::NativeFp64 && !(o.acc == formats::fp64)) p = Path::SimulatedLanes;
  if ((p == Path::NativeFp32 || p == Path::NativeFp64) && o.rounding != Rounding::NearestEven)
    p = Path::SimulatedLanes;
  return p;
}

// The path for these options before the data is seen (Float32Lanes may still become
// SimulatedLanes: see data_path).
template <class T>
Path choose_path(const MatmulOptions& o) {
  if (o.order != Order::Sequential) return usable_path<T>(Path::Float32Lanes, o);
  if (o.rounding == Rounding::NearestEven && o.acc == formats::fp64) return Path::NativeFp64;
  if (o.rounding == Rounding::NearestEven && o.acc == formats::fp32 && sizeof(T) == sizeof(float))
    return Path::NativeFp32;
  return usable_path<T>(Path::Float32Lanes, o);
}

// Float32Lanes only where every product of a value of x and a value of w is exact in
// binary32 (the digests are of all of x and all of w, so any pair qualifies).
template <class T>
Path data_path(Path p, const StoredMatrix& x, const StoredMatrix& w) {
#if !defined(__CUDACC__)
  if constexpr (std::is_same_v<T, float>) {
    if (p == Path::Float32Lanes && !products_exact_in_float32(digest(x), digest(w))) return Path::SimulatedLanes;
    return p;
  }
#endif
  (void)x, (void)w;
  return p == Path::Float32Lanes ? Path::SimulatedLanes : p;
}

}  // namespace mpcore::cpu
