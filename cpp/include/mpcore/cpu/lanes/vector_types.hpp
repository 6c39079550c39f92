// GCC/Clang vector types of W lanes: binary64 lanes (d, with integer views u and i) and
// binary32 lanes (f, u, i). Types carry no instruction set; the functions that use them
// are compiled once per target (dispatch.hpp).
#pragma once

#include <cstdint>

namespace mpcore::cpu::simd {

// Vectors of W lanes; kWidth / W of them side by side. W is the native width of the
// target (8 for AVX-512, 4 for AVX2), so no operation is split or scalarised.
template <int W>
struct V {
  typedef double d __attribute__((vector_size(8 * W)));
  typedef std::uint64_t u __attribute__((vector_size(8 * W)));
  typedef std::int64_t i __attribute__((vector_size(8 * W)));
  typedef float f __attribute__((vector_size(4 * W)));
};

template <int W>
struct V32 {
  typedef float f __attribute__((vector_size(4 * W)));
  typedef std::uint32_t u __attribute__((vector_size(4 * W)));
  typedef std::int32_t i __attribute__((vector_size(4 * W)));
};

}  // namespace mpcore::cpu::simd
