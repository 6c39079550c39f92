// Rounding arrays to a format (like CPFloat / chop).
#pragma once

#include <cstddef>
#include <cstdint>

#include "../numerics/random.hpp"
#include "../numerics/rounding.hpp"
#include "parallel.hpp"

namespace mpcore::cpu {

// out[i] = round(in[i]); element i uses the random stream (seed, i), step 0.
inline void round_array(const double* in, double* out, std::size_t n, const Format& f, Rounding mode,
                        std::uint64_t seed = 0, int sr_bits = kMaxStochasticBits, int threads = 0) {
  const Rounder R = make_rounder(f, mode, sr_bits);
  const bool sr = mode == Rounding::Stochastic;
  constexpr std::size_t kChunk = 4096;
  parallel_for((n + kChunk - 1) / kChunk, threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t c = begin; c < end; ++c)
      for (std::size_t i = c * kChunk; i < n && i < (c + 1) * kChunk; ++i)
        out[i] = round_value(in[i], R, sr ? stream_bits(stream_key(seed, i), 0) : 0);
  });
}

}  // namespace mpcore::cpu
