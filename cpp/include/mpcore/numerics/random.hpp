// Counter-based random bits for stochastic rounding.
//
// The bits for one rounding depend only on (seed, output index, step), never
// on which thread, lane or device computes it, so a seeded run gives the same
// result with any thread count and on the CPU and the GPU alike.
//
// Each output has a 64-bit key (once per output, so its cost does not matter); each step
// draws one 32-bit word, the most any decision uses (kMaxStochasticBits), with 32-bit
// integer arithmetic only, so vector kernels draw a full vector of binary32 lanes at once.
#pragma once

#include <cstdint>

#include "../config.hpp"

namespace mpcore {

inline constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15ull;
inline constexpr std::uint32_t kGolden32 = 0x9e3779b9u;

#include "mix-inl.hpp"

MPCORE_HD inline std::uint64_t mix64(std::uint64_t z) {
  mix64_in_place(z);
  return z;
}

// One independent stream per (seed, output index).
MPCORE_HD inline std::uint64_t stream_key(std::uint64_t seed, std::uint64_t index) {
  return mix64(mix64(seed + kGolden) ^ (index * 0xd1b54a32d192ed03ull + 1));
}

// The step-th 32-bit word of that stream.
MPCORE_HD inline std::uint32_t stream_bits(std::uint64_t key, std::uint64_t step) {
  return stream_word<std::uint32_t>(static_cast<std::uint32_t>(key), static_cast<std::uint32_t>(key >> 32), step);
}

}  // namespace mpcore
