// Condition numbers of an inner product and the decision rule of the selective layer.
//
// kappa_v,i = (|W_i| |x| + |b_i|) / |z_i|: how much the relative rounding errors of the
// terms can be amplified in z_i. The numerator comes from one of three estimators; z is the
// low-precision result, so everything here costs nothing beyond that numerator.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

#include "activation.hpp"
#include "../config.hpp"
#include "../numerics/format.hpp"
#include "../matrix.hpp"
#include "../numerics/rounding.hpp"

namespace mpcore {

enum class Estimator : int {
  Fp32 = 0,   // "fp32": |W||x| + |b| accumulated in fp32 (non-negative terms: accurate; called
              // "exact" before, a name still accepted)
  Low = 1,    // the same sum accumulated in the low format (cheap; may stagnate or overflow)
  Norm = 2,   // ||W_i||_2 ||x||_2 + |b_i| (Cauchy-Schwarz upper bound; O(in + out) per input)
};

// c(n) in kappa * u * c(n) > tau: the growth of the rounding error with the length n.
enum class Factor : int {
  One = 0,   // c = 1 (the paper)
  Sqrt = 1,  // c = sqrt(n): the probabilistic growth
  N = 2,     // c = n: the worst-case growth
};

// The Euclidean norm of v(0), ..., v(n-1) in binary64: the squares of terms j = k mod 4
// added in order into four partial sums (independent chains, so a core adds four at a
// time), then (s0 + s1) + (s2 + s3): the factors of the Norm estimator, the same bits on
// every backend.
template <class Values>
double euclidean_norm(const Values& v, std::size_t n) {
  double s[4] = {0, 0, 0, 0};
  std::size_t j = 0;
  for (; j + 4 <= n; j += 4)
    for (std::size_t k = 0; k < 4; ++k) {
      const double a = v(j + k);
      s[k] += detail::unfused_mul(a, a);
    }
  for (std::size_t k = 0; j < n; ++j, ++k) {
    const double a = v(j);
    s[k] += detail::unfused_mul(a, a);
  }
  return std::sqrt((s[0] + s[1]) + (s[2] + s[3]));
}

// The Norm estimator's numerator ||W_i|| ||x|| + |b_i| (Cauchy-Schwarz: at least |W_i||x| + |b_i|).
MPCORE_HD inline double norm_estimate(double w_norm, double x_norm, double abs_b) {
  return detail::unfused_mul(w_norm, x_norm) + abs_b;
}

// The Norm estimator for every component of x (batch x n) against W (out x n) and b, into
// out (batch x out, row-major); for backends that read plain views.
template <class T>
void norm_numerator(const MatrixView<T>& x, const MatrixView<T>& w, const VectorView<T>& b, double* out) {
  std::vector<double> w_norms(w.rows), x_norms(x.rows);
  for (std::size_t i = 0; i < w.rows; ++i)
    w_norms[i] = euclidean_norm([&](std::size_t j) { return static_cast<double>(w(i, j)); }, w.cols);
  for (std::size_t r = 0; r < x.rows; ++r)
    x_norms[r] = euclidean_norm([&](std::size_t j) { return static_cast<double>(x(r, j)); }, x.cols);
  for (std::size_t r = 0; r < x.rows; ++r)
    for (std::size_t i = 0; i < w.rows; ++i)
      out[r * w.rows + i] = norm_estimate(w_norms[i], x_norms[r], b.data ? std::fabs(static_cast<double>(b[i])) : 0.0);
}

// n = 0 counts as 1: the bias alone is still one rounding.
MPCORE_HD inline double growth_factor(Factor f, std::size_t n) {
  const double dn = n ? static_cast<double>(n) : 1.0;
  return f == Factor::One ? 1.0 : f == Factor::Sqrt ? std::sqrt(dn) : dn;
}

// kappa_v from the numerator and the computed z. z = 0 gives infinity unless the
// numerator is 0 too (every term and the bias are zero: z is exact), which gives 0.
MPCORE_HD inline double inner_condition(double numerator, double z) {
  const double az = std::fabs(z);
  if (az == 0) return numerator == 0 ? 0.0 : HUGE_VAL;
  return numerator / az;
}

// kappa_phi(z) * kappa_v of a component, in the combined form
//   |phi'(z)| (|W_i||x| + |b_i|) / |phi(z)|  =  activation_log_derivative(z) * numerator,
// so no 0 * inf arises at z = 0 (for sigmoid or softplus it is finite there: z = 0 is an
// ordinary, well-defined estimate). A zero numerator means every term and the bias are 0:
// z is exact, 0. A flat phi (ReLU negatives) amplifies nothing, even an infinite numerator.
// NaN only from a NaN z or numerator (NaN inputs).
MPCORE_HD inline double component_condition(Activation a, double z, double numerator, double alpha = 0.0) {
  if (z != z || numerator != numerator) return z != z ? z : numerator;
  if (numerator == 0) return 0.0;
  const double rho = activation_log_derivative(a, z, alpha);
  return rho == 0 ? 0.0 : rho * numerator;
}

// Which rung of a precision ladder (formats ordered by decreasing unit roundoff us[k])
// a component needs: the first k with kappa * us[k] * c <= tau. Components whose
// rung-0 result is not finite, or all of them when tau = 0 (no error tolerated), go
// to the top rung; so does any component no rung satisfies.
//
// kappa = 0 from kappa_phi = 0 (a ReLU negative) trusts the sign of z_low. With
// guard_sign, rung k is only trusted when its error estimate cannot flip that sign:
// kappa_v * us[k] * c < 1.
//
// A NaN kappa (NaN inputs) meets no tolerance, so it goes to the top rung too: no NaN is
// ever compared silently. `clamped`: the rung-0 sum was clamped at +-max_finite (a
// saturating format, or a directed mode that does not overflow): its error is unbounded.
MPCORE_HD inline int choose_rung(double z_low, double kappa, double kappa_v, bool guard_sign, const double* us,
                                 int rungs, double c, double tau, bool clamped = false) {
  if (!std::isfinite(z_low) || clamped || tau == 0 || kappa != kappa) return rungs - 1;
  for (int k = 0; k < rungs - 1; ++k) {
    const bool sign_unsure = guard_sign && kappa == 0 && !(kappa_v * us[k] * c < 1);
    if (kappa * us[k] * c <= tau && !sign_unsure) return k;
  }
  return rungs - 1;
}

// The format with f's grid and no top: emax 1023 and overflow to inf. A sum accumulated in
// it differs from the same sum in f exactly when a partial sum was clamped or overflowed.
inline Format unbounded(const Format& f) {
  Format u = f;
  u.emax = 1023;
  u.max_finite = u.binade_max();
  u.overflow = Overflow::Inf;
  return u;
}

// Same value, NaN equal to NaN (a NaN sum stays NaN with or without a top).
MPCORE_HD inline bool same_value(double a, double b) { return a == b || (a != a && b != b); }

// Whether a sum in f under `mode` can be clamped at +-max_finite and stay finite (so the
// non-finite check cannot see it): saturating formats in every mode, any format under the
// modes that clamp instead of overflowing on one side (rtz, rto, rup, rdn).
inline bool clamps_silently(const Format& f, Rounding mode) {
  return f.overflow == Overflow::Saturate || mode == Rounding::TowardZero || mode == Rounding::ToOdd ||
         mode == Rounding::Upward || mode == Rounding::Downward;
}

}  // namespace mpcore
