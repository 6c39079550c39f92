// The options of a simulated-accumulation matmul, shared by the CPU and CUDA backends.
#pragma once

#include <cstddef>
#include <cstdint>

#include "accumulator.hpp"
#include "format.hpp"
#include "rounding.hpp"

namespace mpcore {

inline constexpr std::size_t kDefaultBlock = 32;

struct MatmulOptions {
  Format acc = formats::fp32;          // accumulator format
  Rounding rounding = Rounding::NearestEven;
  Order order = Order::Sequential;
  std::size_t block = kDefaultBlock;   // Blocked: products per inner block
  Format outer = formats::fp32;        // Blocked: outer accumulator format
  std::uint64_t seed = 0;              // Stochastic: key of the random streams
  int sr_bits = kMaxStochasticBits;    // Stochastic: random bits per decision
  int threads = 0;                     // 0: MPCORE_NUM_THREADS or all cores

  bool operator==(const MatmulOptions& o) const {
    return acc == o.acc && rounding == o.rounding && order == o.order && block == o.block && outer == o.outer &&
           seed == o.seed && sr_bits == o.sr_bits && threads == o.threads;
  }
};

inline Accumulation make_accumulation(const MatmulOptions& o) {
  return make_accumulation(o.acc, o.rounding, o.order, o.block, o.outer, o.seed, o.sr_bits);
}

}  // namespace mpcore
