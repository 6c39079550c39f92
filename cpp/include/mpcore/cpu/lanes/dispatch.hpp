// The simulated-accumulation lane kernels, vectorised across kWidth = 32 outputs with
// GCC/Clang vector extensions, and the one place that picks an instruction set.
//
// Each lane owns one output and adds its terms in the output's order (sequential or
// pairwise), so vectorising never changes an output's summation order. Every step rounds
// with the branch-free common case of rounding.hpp's add_rounded_normal, extended to the
// subnormal range; a chunk of steps in which a lane met a special case (zero, overflow,
// inf/NaN, stochastic rounding that needs bits of lo) is redone for that lane with the
// exact scalar add_rounded. The result is bit-identical to the scalar kernels (tested on
// every path, instruction set and thread count).
//
// The kernels (target-inl.hpp) are compiled once per instruction set, the Highway way: the
// same source included under `#pragma GCC target` in its own namespace, so a wheel runs on
// any x86-64 and every copy is compiled for its own vector width. Target<Isa> is the
// dispatch table; with_target() the only switch; fastest.hpp picks the instruction set per
// kernel family and kernels.hpp holds the entry points the matmul calls.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>  // any_lane's test instructions (helpers-inl.hpp)
#endif

#include "../../numerics/accumulator.hpp"
#include "../../numerics/random.hpp"
#include "../../numerics/rounding.hpp"
#include "grids.hpp"
#include "isa.hpp"
#include "vector_types.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MPCORE_X86_TARGETS 1
#else
#define MPCORE_X86_TARGETS 0
#endif

// _Pragma with a macro-expanded argument (the target's features).
#define MPCORE_PRAGMA_STRING_(x) #x
#define MPCORE_PRAGMA_(x) _Pragma(MPCORE_PRAGMA_STRING_(x))

// Vectors pass by reference into always-inline helpers, so the ABI of passing them by
// value never applies.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace mpcore::cpu::simd {

template <Isa>
struct Target;

// One copy per target; target-inl.hpp applies MPCORE_TARGET_FEATURES (if defined) to every
// function it defines, and undefines these macros.
#define MPCORE_TARGET_NS portable
#define MPCORE_TARGET_ISA Portable
#define MPCORE_W64 2
#define MPCORE_W32 4
#include "target-inl.hpp"

#if MPCORE_X86_TARGETS
#define MPCORE_TARGET_NS avx2
#define MPCORE_TARGET_ISA Avx2
#define MPCORE_TARGET_FEATURES "avx2,fma"
#define MPCORE_W64 4
#define MPCORE_W32 8
#include "target-inl.hpp"

#define MPCORE_TARGET_NS avx512
#define MPCORE_TARGET_ISA Avx512
#define MPCORE_TARGET_FEATURES "avx512f,avx512dq,avx512vl,avx512bw"  // isa.hpp detects these four
#define MPCORE_W64 8
#define MPCORE_W32 16
#include "target-inl.hpp"
#endif  // MPCORE_X86_TARGETS

// f(Target<isa>{}): the one switch over instruction sets.
template <class F>
decltype(auto) with_target(Isa isa, F&& f) {
#if MPCORE_X86_TARGETS
  switch (isa) {
    case Isa::Avx512: return f(Target<Isa::Avx512>{});
    case Isa::Avx2: return f(Target<Isa::Avx2>{});
    default: break;
  }
#else
  (void)isa;
#endif
  return f(Target<Isa::Portable>{});
}

}  // namespace mpcore::cpu::simd

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
