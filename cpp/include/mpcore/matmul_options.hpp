// The options of a simulated-accumulation matmul, shared by the CPU and CUDA backends.
#pragma once

#include <cstddef>
#include <cstdint>

#include "accumulator.hpp"
#include "format.hpp"
#include "rounding.hpp"

namespace mpcore {

struct MatmulOptions {
  Format acc = formats::fp32;          // accumulator format
  Rounding rounding = Rounding::NearestEven;
  Order order = Order::Sequential;
  std::size_t block = 32;              // Blocked: products per inner block
  Format outer = formats::fp32;        // Blocked: outer accumulator format
  std::uint64_t seed = 0;              // Stochastic: key of the random streams
  int sr_bits = kMaxStochasticBits;    // Stochastic: random bits per decision
  int threads = 0;                     // 0: MPCORE_NUM_THREADS or all cores
};

inline Accumulation make_accumulation(const MatmulOptions& o) {
  return make_accumulation(o.acc, o.rounding, o.order, o.block, o.outer, o.seed, o.sr_bits);
}

}  // namespace mpcore
