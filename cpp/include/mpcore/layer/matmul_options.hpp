// The options of a simulated-accumulation matmul, shared by the CPU and CUDA backends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "../numerics/accumulator.hpp"
#include "../numerics/format.hpp"
#include "../numerics/rounding.hpp"

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

// The shapes of x (.. x x_cols), W (w_rows x w_cols) and b (bias_size, if any) agree, and
// the options' formats are valid; throws std::invalid_argument otherwise.
inline void check_matmul_shapes(std::size_t x_cols, std::size_t w_rows, std::size_t w_cols, const void* bias,
                                std::size_t bias_size, const MatmulOptions& o) {
  if (x_cols != w_cols)
    throw std::invalid_argument("x has " + std::to_string(x_cols) + " features but w has " +
                                std::to_string(w_cols) + " columns");
  if (bias && bias_size != w_rows)
    throw std::invalid_argument("b has " + std::to_string(bias_size) + " entries but w has " +
                                std::to_string(w_rows) + " rows");
  const std::string bad_acc = validate(o.acc), bad_outer = validate(o.outer);
  if (!bad_acc.empty()) throw std::invalid_argument("acc: " + bad_acc);
  if (!bad_outer.empty()) throw std::invalid_argument("outer: " + bad_outer);
}

inline Accumulation make_accumulation(const MatmulOptions& o) {
  return make_accumulation(o.acc, o.rounding, o.order, o.block, o.outer, o.seed, o.sr_bits);
}

}  // namespace mpcore
