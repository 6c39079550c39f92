// Every entry of the AVX2 and AVX-512 rows of the lane kernels' dispatch table, compiled
// by check_vector_code.cmake to prove (without the hardware) that no copy is scalarised:
// GCC must not expand a vector operation piecewise (-Werror=vector-operation-performance)
// and the disassembly must not be made of lane extracts and inserts.
#include <mpcore/cpu/matmul.hpp>

#if MPCORE_X86_TARGETS
using mpcore::Accumulation;
using mpcore::Rounder;
using mpcore::Rounding;
using mpcore::cpu::Isa;
using mpcore::cpu::simd::Target;
using u64 = std::uint64_t;

constexpr int kHalf = static_cast<int>(mpcore::cpu::simd::kWidth) / 2;  // the half-panel kernels
#define MPCORE_SEQ64(I, M, T) \
  template void Target<Isa::I>::sequential64<Rounding::M, T>(const T*, const T*, std::size_t, const Rounder&, u64, const u64*, double*, u64); \
  template void Target<Isa::I>::sequential64<Rounding::M, T, kHalf>(const T*, const T*, std::size_t, const Rounder&, u64, const u64*, double*, u64);
#define MPCORE_BIAS64(I, M) \
  template void Target<Isa::I>::bias64<Rounding::M>(const double*, std::size_t, const double*, const Rounder&, u64, const u64*, u64, double*);
#define MPCORE_PW64(I, M, T) \
  template void Target<Isa::I>::pairwise64<Rounding::M, T>(const T*, const T*, std::size_t, const Accumulation&, const u64*, double*);
#define MPCORE_SEQ32(I, M) \
  template void Target<Isa::I>::sequential32<Rounding::M, 1>(const float* const*, const float*, std::size_t, const Rounder&, u64, const u64*, double*, u64); \
  template void Target<Isa::I>::sequential32<Rounding::M, 2>(const float* const*, const float*, std::size_t, const Rounder&, u64, const u64*, double*, u64); \
  template void Target<Isa::I>::sequential32<Rounding::M, 4>(const float* const*, const float*, std::size_t, const Rounder&, u64, const u64*, double*, u64); \
  template void Target<Isa::I>::sequential32<Rounding::M, 1, kHalf>(const float* const*, const float*, std::size_t, const Rounder&, u64, const u64*, double*, u64);
#define MPCORE_PW32(I, M) \
  template void Target<Isa::I>::pairwise32<Rounding::M, 1>(const float* const*, const float*, std::size_t, const Accumulation&, const u64*, double*); \
  template void Target<Isa::I>::pairwise32<Rounding::M, 2>(const float* const*, const float*, std::size_t, const Accumulation&, const u64*, double*);
#define MPCORE_MODE64(I, M) MPCORE_SEQ64(I, M, float) MPCORE_SEQ64(I, M, double) MPCORE_PW64(I, M, float) MPCORE_PW64(I, M, double) MPCORE_BIAS64(I, M)
#define MPCORE_MODE32(I, M) MPCORE_SEQ32(I, M) MPCORE_PW32(I, M)
#define MPCORE_ISA(I)                                                                                       \
  MPCORE_MODE64(I, NearestEven) MPCORE_MODE64(I, NearestAway) MPCORE_MODE64(I, TowardZero)                  \
  MPCORE_MODE64(I, Upward) MPCORE_MODE64(I, Downward) MPCORE_MODE64(I, ToOdd) MPCORE_MODE64(I, Stochastic)  \
  MPCORE_MODE32(I, NearestEven) MPCORE_MODE32(I, NearestAway) MPCORE_MODE32(I, TowardZero)                  \
  MPCORE_MODE32(I, Upward) MPCORE_MODE32(I, ToOdd) MPCORE_MODE32(I, Stochastic)

MPCORE_ISA(Avx2)
MPCORE_ISA(Avx512)
#endif
