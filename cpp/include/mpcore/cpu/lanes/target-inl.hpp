// One instruction set's copy of the lane kernels. dispatch.hpp includes this file once per
// target, inside namespace mpcore::cpu::simd, with
//   MPCORE_TARGET_NS        the namespace of this copy (portable, avx2, avx512),
//   MPCORE_TARGET_ISA       its Isa enumerator,
//   MPCORE_TARGET_FEATURES  the target's features ("avx2,fma"; undefined: the baseline), and
//   MPCORE_W64 / MPCORE_W32 the lanes per native vector in binary64 / binary32;
// it compiles everything below for those features and undefines the five macros.
// Every function below, the always-inline helpers included, is compiled for that target,
// so GCC never lowers a vector operation for a narrower one (which scalarised the
// AVX-512 copy when the helpers were compiled for the baseline; see tests/cpp/scalar_check).
// No include guard: it is meant to be included several times.

#if defined(MPCORE_TARGET_FEATURES)
#if defined(__clang__)
MPCORE_PRAGMA_(clang attribute push(__attribute__((target(MPCORE_TARGET_FEATURES))), apply_to = function))
#else
MPCORE_PRAGMA_(GCC push_options)
MPCORE_PRAGMA_(GCC target(MPCORE_TARGET_FEATURES))
#endif
#endif

namespace MPCORE_TARGET_NS {
#include "../../numerics/decision-inl.hpp"
#include "../../numerics/mix-inl.hpp"
#include "helpers-inl.hpp"
#include "step64-inl.hpp"
#include "step32-inl.hpp"
#include "sequential-inl.hpp"
#include "pairwise-inl.hpp"
}  // namespace MPCORE_TARGET_NS

// The entry points of this copy (the dispatch table's row for MPCORE_TARGET_ISA).
template <>
struct Target<Isa::MPCORE_TARGET_ISA> {
  static constexpr Isa isa = Isa::MPCORE_TARGET_ISA;

  // Lanes: the first Lanes outputs of the panel (kWidth, or kWidth / 2 for a half panel).
  template <Rounding Mode, class T, int Lanes = static_cast<int>(kWidth)>
  static void sequential64(const T* xr, const T* panel, std::size_t n, const Rounder& R, std::uint64_t seed,
                           const std::uint64_t* index, double* out, std::uint64_t step0) {
    if constexpr (Mode == Rounding::Stochastic)
      if (sr_rem_only(R))
        return MPCORE_TARGET_NS::lanes_body<Mode, MPCORE_W64, T, true, Lanes>(xr, panel, n, R, seed, index, out,
                                                                               step0);
    MPCORE_TARGET_NS::lanes_body<Mode, MPCORE_W64, T, false, Lanes>(xr, panel, n, R, seed, index, out, step0);
  }
  template <Rounding Mode>
  static void bias64(const double* s, std::size_t rows, const double* bias, const Rounder& R, std::uint64_t seed,
                     const std::uint64_t* index, std::uint64_t step, double* out) {
    if constexpr (Mode == Rounding::Stochastic)
      if (sr_rem_only(R))
        return MPCORE_TARGET_NS::bias_body<Mode, MPCORE_W64, true>(s, rows, bias, R, seed, index, step, out);
    MPCORE_TARGET_NS::bias_body<Mode, MPCORE_W64>(s, rows, bias, R, seed, index, step, out);
  }
  template <Rounding Mode, int Rows = 1, int Lanes = static_cast<int>(kWidth)>
  static void sequential32(const float* const* xr, const float* panel, std::size_t n, const Rounder& R,
                           std::uint64_t seed, const std::uint64_t* index, double* out, std::uint64_t step0) {
    MPCORE_TARGET_NS::lanes32_body<Mode, MPCORE_W32, Rows, Lanes>(xr, panel, n, R, seed, index, out, step0);
  }
  template <Rounding Mode, class T>
  static void pairwise64(const T* xr, const T* panel, std::size_t n, const Accumulation& A,
                         const std::uint64_t* index, double* out) {
    if constexpr (Mode == Rounding::Stochastic) {
      if (sr_rem_only(A.acc)) {
        const MPCORE_TARGET_NS::Container64<Mode, MPCORE_W64, T, true> c(A.acc, A.seed, index);
        return MPCORE_TARGET_NS::pairwise_body(c, xr, panel, n, A, out);
      }
    }
    const MPCORE_TARGET_NS::Container64<Mode, MPCORE_W64, T> c(A.acc, A.seed, index);
    MPCORE_TARGET_NS::pairwise_body(c, xr, panel, n, A, out);
  }
  // Rows = 2: xr[0], xr[1] against the panel, index and out kWidth entries per row.
  template <Rounding Mode, int Rows = 1>
  static void pairwise32(const float* const* xr, const float* panel, std::size_t n, const Accumulation& A,
                         const std::uint64_t* index, double* out) {
    typedef MPCORE_TARGET_NS::Container32<Mode, MPCORE_W32> C;
    if constexpr (Rows == 1) {
      const C c(A.acc, A.seed, index);
      MPCORE_TARGET_NS::pairwise_body(c, xr[0], panel, n, A, out);
    } else {
      const MPCORE_TARGET_NS::TwoRows<C> c(A.acc, A.seed, index, xr);
      MPCORE_TARGET_NS::pairwise_body(c, xr[0], panel, n, A, out);
    }
  }
};

#if defined(MPCORE_TARGET_FEATURES)
#if defined(__clang__)
MPCORE_PRAGMA_(clang attribute pop)
#else
MPCORE_PRAGMA_(GCC pop_options)
#endif
#endif
#undef MPCORE_TARGET_NS
#undef MPCORE_TARGET_ISA
#undef MPCORE_TARGET_FEATURES
#undef MPCORE_W64
#undef MPCORE_W32
