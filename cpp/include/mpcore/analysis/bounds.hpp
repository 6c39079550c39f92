// A-priori error bounds for an accumulated inner product.
//
// Model: each rounding gives fl(a + b) = (a + b)(1 + d) + e with |d| <= u' and |e| <= eta,
// where u' = u for round-to-nearest and 2u for the other modes (an error of up to one
// spacing), and eta is half the smallest subnormal spacing (a whole one for the other modes)
// - the absolute error of an underflowing sum. A term that goes through m roundings then
// satisfies |z_hat - z| <= gamma_m(u') S + m eta (1 + gamma_m(u')), S = |W_i||x| + |b_i|.
#pragma once

#include <cmath>
#include <cstddef>

#include "../numerics/accumulator.hpp"
#include "../config.hpp"
#include "../numerics/rounding.hpp"

namespace mpcore {

// gamma_m(u) = m u / (1 - m u); infinite once m u >= 1 (no bound).
MPCORE_HD inline double gamma(double m, double u) {
  const double mu = m * u;
  return mu < 1 ? mu / (1 - mu) : HUGE_VAL;
}

// Probabilistic analogue (Higham & Mary 2019): with independent mean-zero rounding errors,
// |error| <= gamma~_m(lambda) S with probability at least 1 - 2m exp(-lambda^2 (1-u)^2 / 2),
// gamma~ = exp(lambda sqrt(m) u + m u^2 / (1 - u)) - 1. lambda is chosen so that the
// failure probability is kFailureProbability for this m.
inline constexpr double kFailureProbability = 1e-3;

MPCORE_HD inline double gamma_probabilistic(double m, double u) {
  const double lambda = std::sqrt(2 * std::log(2 * m / kFailureProbability)) / (1 - u);
  return std::expm1(lambda * std::sqrt(m) * u + m * u * u / (1 - u));
}

// The most roundings any one term of an n-term accumulation goes through.
MPCORE_HD inline double roundings_per_term(const Accumulation& a, std::size_t n, bool bias) {
  const double nb = bias ? 1.0 : 0.0;
  if (a.order == Order::Sequential) return static_cast<double>(n) + nb;
  if (a.order == Order::Pairwise) {
    double depth = 1;  // the leaf rounding
    for (std::size_t len = 1; len < n; len *= 2) depth += 1;
    return depth + nb;
  }
  const std::size_t blocks = a.block ? (n + a.block - 1) / a.block : 0;
  return static_cast<double>((n < a.block ? n : a.block) + blocks) + nb;
}

struct ErrorBound {
  double worst;          // always holds (absent overflow)
  double probabilistic;  // holds with probability >= 1 - kFailureProbability under the model
};

// sum_abs: an upper bound on S = |W_i||x| + |b_i|. unit: the largest unit roundoff of the
// formats the accumulation rounds to; tiny: the largest smallest-subnormal of those formats.
MPCORE_HD inline ErrorBound error_bound(double sum_abs, double m, double unit, double tiny, Rounding mode) {
  const bool nearest = mode == Rounding::NearestEven || mode == Rounding::NearestAway;
  const double u = nearest ? unit : 2 * unit, eta = nearest ? tiny / 2 : tiny;
  const double g = gamma(m, u);
  const double under = m * eta * (1 + g);
  const double gp = gamma_probabilistic(m, u);  // never above the worst case (short sums)
  return ErrorBound{g * sum_abs + under, (gp < g ? gp : g) * sum_abs + under};
}

}  // namespace mpcore
