// Names of formats, rounding modes, orders and overflow policies, for
// command lines and bindings. Unknown names throw std::invalid_argument with
// the list of valid ones.
#pragma once

#include <stdexcept>
#include <string>

#include "numerics/accumulator.hpp"
#include "analysis/activation.hpp"
#include "analysis/condition.hpp"
#include "numerics/format.hpp"
#include "numerics/rounding.hpp"

namespace mpcore {

namespace detail {
template <class E, std::size_t N>
E parse_name(const std::string& what, const std::string& s, const char* const (&names)[N], const E (&values)[N]) {
  std::string valid;
  for (std::size_t i = 0; i < N; ++i) {
    if (s == names[i]) return values[i];
    valid += (i ? ", " : "") + std::string("'") + names[i] + "'";
  }
  throw std::invalid_argument("unknown " + what + " '" + s + "'; valid: " + valid);
}
}  // namespace detail

inline constexpr const char* kRoundingNames[] = {"rne", "rna", "rtz", "rup", "rdn", "rto", "sr"};
inline constexpr Rounding kRoundingValues[] = {Rounding::NearestEven, Rounding::NearestAway, Rounding::TowardZero,
                                               Rounding::Upward,      Rounding::Downward,    Rounding::ToOdd,
                                               Rounding::Stochastic};
inline Rounding parse_rounding(const std::string& s) {
  return detail::parse_name("rounding mode", s, kRoundingNames, kRoundingValues);
}
inline const char* name_of(Rounding r) { return kRoundingNames[static_cast<int>(r)]; }

inline constexpr const char* kOrderNames[] = {"sequential", "pairwise", "blocked"};
inline constexpr Order kOrderValues[] = {Order::Sequential, Order::Pairwise, Order::Blocked};
inline Order parse_order(const std::string& s) { return detail::parse_name("order", s, kOrderNames, kOrderValues); }
inline const char* name_of(Order o) { return kOrderNames[static_cast<int>(o)]; }

inline constexpr const char* kOverflowNames[] = {"inf", "saturate", "nan"};
inline constexpr Overflow kOverflowValues[] = {Overflow::Inf, Overflow::Saturate, Overflow::NaN};
inline Overflow parse_overflow(const std::string& s) {
  return detail::parse_name("overflow policy", s, kOverflowNames, kOverflowValues);
}
inline const char* name_of(Overflow o) { return kOverflowNames[static_cast<int>(o)]; }

inline constexpr const char* kActivationNames[] = {"identity", "relu", "leaky_relu", "tanh", "sigmoid",
                                                   "gelu", "gelu_tanh", "silu", "softplus", "elu"};
inline constexpr Activation kActivationValues[] = {
    Activation::Identity, Activation::Relu,     Activation::LeakyRelu, Activation::Tanh, Activation::Sigmoid,
    Activation::GeluErf,  Activation::GeluTanh, Activation::Silu,      Activation::Softplus, Activation::Elu};
inline Activation parse_activation(const std::string& s) {
  return detail::parse_name("activation", s, kActivationNames, kActivationValues);
}
inline const char* name_of(Activation a) { return kActivationNames[static_cast<int>(a)]; }

// "exact" is the fp32 estimator's former name, still accepted (after the canonical names).
inline constexpr const char* kEstimatorNames[] = {"fp32", "low", "norm", "exact"};
inline constexpr Estimator kEstimatorValues[] = {Estimator::Fp32, Estimator::Low, Estimator::Norm, Estimator::Fp32};
inline Estimator parse_estimator(const std::string& s) {
  return detail::parse_name("estimator", s, kEstimatorNames, kEstimatorValues);
}

inline constexpr const char* kFactorNames[] = {"1", "sqrt", "n"};
// The same as Python identifiers (the members of mpcore.Factor: "1" is not a name).
inline constexpr const char* kFactorIdentifiers[] = {"one", "sqrt", "n"};
inline constexpr Factor kFactorValues[] = {Factor::One, Factor::Sqrt, Factor::N};
inline Factor parse_factor(const std::string& s) { return detail::parse_name("factor", s, kFactorNames, kFactorValues); }

inline Format parse_format(const std::string& s) {
  std::string valid;
  for (const auto& nf : formats::all) {
    if (s == nf.name) return nf.format;
    valid += (valid.empty() ? "'" : ", '") + std::string(nf.name) + "'";
  }
  throw std::invalid_argument("unknown format '" + s + "'; valid: " + valid);
}

}  // namespace mpcore
