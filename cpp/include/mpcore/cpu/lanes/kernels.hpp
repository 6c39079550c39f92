// The lane kernels' entry points: kWidth outputs at a time, in binary64 or binary32 lanes,
// in sequential or pairwise order, on the instruction set fastest.hpp picks for the family.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dispatch.hpp"
#include "fastest.hpp"

namespace mpcore::cpu::simd {

// Lanes (kWidth, or kWidth / 2: the first half of the panel, for a tail of outputs)
// sequential sums of panel[j * kWidth + l] * xr[j], j < n, from zero, rounded per R in
// binary64 lanes (supports(R)); step0: the stochastic-rounding step of term 0 (a block of
// a longer sum starts later). Half the lanes take about 0.6 of the time (fewer independent
// chains hide less of a step's latency).
template <class T, int Lanes = static_cast<int>(kWidth)>
void lanes(const T* xr, const T* panel, std::size_t n, const Rounder& R, std::uint64_t seed,
           const std::uint64_t* index, double* out, std::uint64_t step0 = 0) {
  static_assert(Lanes == static_cast<int>(kWidth) || Lanes == static_cast<int>(kWidth) / 2, "a panel or half");
  with_any_rounding(R.mode, [&](auto m) {
    with_target(family_isa(Container::Binary64, false, R.mode), [&](auto t) {
      decltype(t)::template sequential64<decltype(m)::value, T, Lanes>(xr, panel, n, R, seed, index, out, step0);
    });
  });
}

// The bias as the last term of `rows` rows of kWidth sums: out[r * kWidth + l] =
// s[r * kWidth + l] + bias[l] rounded per R (supports(R)); stochastic rounding draws step
// `step` of stream index[r * kWidth + l].
inline void bias_lanes(const double* s, std::size_t rows, const double* bias, const Rounder& R, std::uint64_t seed,
                       const std::uint64_t* index, std::uint64_t step, double* out) {
  with_any_rounding(R.mode, [&](auto m) {
    with_target(family_isa(Container::Binary64, false, R.mode), [&](auto t) {
      decltype(t)::template bias64<decltype(m)::value>(s, rows, bias, R, seed, index, step, out);
    });
  });
}

// The same in binary32 lanes: supports_float32(R) and products exact in binary32.
template <int Lanes = static_cast<int>(kWidth)>
void lanes32(const float* xr, const float* panel, std::size_t n, const Rounder& R, std::uint64_t seed,
             const std::uint64_t* index, double* out, std::uint64_t step0 = 0) {
  static_assert(Lanes == static_cast<int>(kWidth) || Lanes == static_cast<int>(kWidth) / 2, "a panel or half");
  with_float32_rounding(R.mode, [&](auto m) {
    with_target(family_isa(Container::Binary32, false, R.mode), [&](auto t) {
      decltype(t)::template sequential32<decltype(m)::value, 1, Lanes>(&xr, panel, n, R, seed, index, out, step0);
    });
  });
}

// Rows (2 or 4) rows of x against one panel: out[r * kWidth + l] for rows r < Rows (index
// alike), the bits of Rows lanes32 calls, faster (shared loads, more independent chains).
template <int Rows>
inline void lanes32_rows(const float* const* xr, const float* panel, std::size_t n, const Rounder& R,
                         std::uint64_t seed, const std::uint64_t* index, double* out, std::uint64_t step0 = 0) {
  static_assert(Rows == 2 || Rows == 4, "two or four rows");
  with_float32_rounding(R.mode, [&](auto m) {
    with_target(family_isa(Container::Binary32, false, R.mode), [&](auto t) {
      decltype(t)::template sequential32<decltype(m)::value, Rows>(xr, panel, n, R, seed, index, out, step0);
    });
  });
}

// kWidth pairwise sums (no bias), exactly as accumulate() with Order::Pairwise gives them,
// in binary64 lanes for any rounding mode.
template <class T>
void pairwise_lanes(const T* xr, const T* panel, std::size_t n, const Accumulation& A, const std::uint64_t* index,
                    double* out) {
  with_any_rounding(A.acc.mode, [&](auto m) {
    with_target(family_isa(Container::Binary64, true, A.acc.mode),
                [&](auto t) { decltype(t)::template pairwise64<decltype(m)::value, T>(xr, panel, n, A, index, out); });
  });
}

// The same in binary32 lanes (supports_float32 modes; products exact in binary32).
inline void pairwise_lanes32(const float* xr, const float* panel, std::size_t n, const Accumulation& A,
                             const std::uint64_t* index, double* out) {
  with_float32_rounding(A.acc.mode, [&](auto m) {
    with_target(family_isa(Container::Binary32, true, A.acc.mode), [&](auto t) {
      decltype(t)::template pairwise32<decltype(m)::value, 1>(&xr, panel, n, A, index, out);
    });
  });
}

// Two rows of x against one panel (index, out: kWidth entries per row): the bits of two
// pairwise_lanes32 calls, with twice the independent chains.
inline void pairwise_lanes32_two_rows(const float* const* xr, const float* panel, std::size_t n,
                                      const Accumulation& A, const std::uint64_t* index, double* out) {
  with_float32_rounding(A.acc.mode, [&](auto m) {
    with_target(family_isa(Container::Binary32, true, A.acc.mode), [&](auto t) {
      decltype(t)::template pairwise32<decltype(m)::value, 2>(xr, panel, n, A, index, out);
    });
  });
}

}  // namespace mpcore::cpu::simd
