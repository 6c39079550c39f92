// mpcore: simulated low-precision accumulation for neural-network inference.
// One include for C++ users: formats, rounding, accumulators, CPU kernels.
#pragma once

#include <cstddef>

#include "numerics/accumulator.hpp"
#include "analysis/activation.hpp"
#include "analysis/bounds.hpp"
#include "analysis/condition.hpp"
#include "config.hpp"
#include "cpu/numerator.hpp"
#include "cpu/matmul.hpp"
#include "cpu/round_array.hpp"
#include "cpu/ladder.hpp"
#include "cpu/windows.hpp"
#include "cpu/conv.hpp"
#include "numerics/format.hpp"
#include "matrix.hpp"
#include "names.hpp"
#include "numerics/random.hpp"
#include "numerics/rounding.hpp"

namespace mpcore {

inline constexpr const char* version = "0.2.0";

// sum_j w[j] x[j] (+ bias), accumulated as `o` says, for output index 0.
template <class T>
double dot(const T* w, const T* x, std::size_t n, const MatmulOptions& o, const T* bias = nullptr) {
  const Accumulation a = make_accumulation(o);
  const double b = bias ? static_cast<double>(*bias) : 0.0;
  auto term = [&](std::size_t j) { return ::mpcore::detail::unfused_mul(static_cast<double>(w[j]), static_cast<double>(x[j])); };
  return accumulate(term, n, bias ? &b : nullptr, a, 0);
}

// The simplest entry point: sequential order, round to nearest even.
inline double dot(const float* w, const float* x, std::size_t n, const Format& acc) {
  MatmulOptions o;
  o.acc = acc;
  return dot(w, x, n, o);
}

}  // namespace mpcore
