// Summation orders of a simulated accumulator: the single definition of which
// additions happen, in which order, with which rounding. Both backends call it
// (or reproduce its order exactly, which the tests check bit for bit).
#pragma once

#include <cstddef>
#include <cstdint>

#include "../config.hpp"
#include "format.hpp"
#include "random.hpp"
#include "rounding.hpp"

namespace mpcore {

enum class Order : int {
  // s = 0; s = round(s + p_j) for j = 0..n-1; then s = round(s + b).
  Sequential = 0,
  // Leaves round(0 + p_j); a balanced tree whose left part is the largest power
  // of two below the length (the shape a binary counter builds left to right);
  // each internal node is round(left + right); then round(s + b).
  Pairwise = 1,
  // Blocks of `block` consecutive products, each summed sequentially from zero in
  // the accumulator format; every block sum is added into an outer accumulator
  // in the outer format (one rounding each); the bias is added last, in the
  // outer format. The promotion scheme of fp8 GPU kernels.
  Blocked = 2,
};

// Everything that decides the bits of one accumulated output.
struct Accumulation {
  Rounder acc;         // accumulator format and rounding
  Rounder outer;       // outer format (Blocked only), same rounding mode
  Order order;
  std::size_t block;   // block length (Blocked only), >= 1
  std::uint64_t seed;  // stochastic rounding key
};

inline Accumulation make_accumulation(const Format& acc, Rounding mode, Order order = Order::Sequential,
                                      std::size_t block = 32, const Format& outer = formats::fp32,
                                      std::uint64_t seed = 0, int sr_bits = kMaxStochasticBits) {
  return Accumulation{make_rounder(acc, mode, sr_bits), make_rounder(outer, mode, sr_bits), order,
                      block ? block : 1, seed};
}

// The format an accumulation's result is in.
MPCORE_HD inline const Rounder& result_rounder(const Accumulation& a) {
  return a.order == Order::Blocked ? a.outer : a.acc;
}

// Stochastic-rounding step numbers within one output of n terms (each rounding gets its
// own, so its random bits are the same in every kernel that computes it):
//   Sequential: term j -> j, bias -> n.
//   Pairwise:   leaf j -> j, the k-th internal node formed -> n + k, bias -> 2n.
//   Blocked:    term j -> j, block k into the outer sum -> n + k, bias -> n + number of blocks.
struct StepNumbers {
  std::uint64_t n;
  MPCORE_HD std::uint64_t term(std::uint64_t j) const { return j; }
  // Pairwise: the k-th internal node; blocked: block k added into the outer sum.
  MPCORE_HD std::uint64_t combine(std::uint64_t k) const { return n + k; }
  MPCORE_HD std::uint64_t bias(Order order, std::uint64_t blocks) const {
    return order == Order::Pairwise ? 2 * n : order == Order::Blocked ? n + blocks : n;
  }
};

// `term(j)` returns the exact product of term j (as a double).
template <class Term>
MPCORE_HD double accumulate(const Term& term, std::size_t n, const double* bias, const Accumulation& a,
                            std::uint64_t index) {
  const bool sr = a.acc.mode == Rounding::Stochastic;
  const std::uint64_t key = sr ? stream_key(a.seed, index) : 0;
  auto bits = [&](std::uint64_t step) { return sr ? stream_bits(key, step) : std::uint32_t{0}; };

  const StepNumbers step{n};
  double s = 0.0;
  std::uint64_t blocks = 0;
  if (a.order == Order::Sequential) {
    for (std::size_t j = 0; j < n; ++j) s = add_rounded(s, term(j), a.acc, bits(step.term(j)));
  } else if (a.order == Order::Pairwise) {
    // stack[k] holds the sum of a run of 2^size[k] leaves; equal runs merge.
    double stack[64];
    unsigned char size[64];
    int top = 0;
    std::uint64_t node = 0;
    for (std::size_t j = 0; j < n; ++j) {
      double v = add_rounded(0.0, term(j), a.acc, bits(step.term(j)));
      unsigned char sz = 0;
      while (top > 0 && size[top - 1] == sz) {
        v = add_rounded(stack[top - 1], v, a.acc, bits(step.combine(node++)));
        --top;
        ++sz;
      }
      stack[top] = v;
      size[top] = sz;
      ++top;
    }
    if (top > 0) {
      s = stack[top - 1];
      for (int k = top - 2; k >= 0; --k) s = add_rounded(stack[k], s, a.acc, bits(step.combine(node++)));
    }
  } else {
    for (std::size_t start = 0; start < n; start += a.block, ++blocks) {
      const std::size_t stop = start + a.block < n ? start + a.block : n;
      double t = 0.0;
      for (std::size_t j = start; j < stop; ++j) t = add_rounded(t, term(j), a.acc, bits(step.term(j)));
      s = add_rounded(s, t, a.outer, bits(step.combine(blocks)));
    }
  }
  if (bias) s = add_rounded(s, *bias, result_rounder(a), bits(step.bias(a.order, blocks)));
  return s;
}

}  // namespace mpcore
