// Condition numbers of an inner product and the decision rule of the selective layer.
//
// kappa_v,i = (|W_i| |x| + |b_i|) / |z_i|: how much the relative rounding errors of the
// terms can be amplified in z_i. The numerator comes from one of three estimators; z is the
// low-precision result, so everything here costs nothing beyond that numerator.
#pragma once

#include <cmath>
#include <cstddef>

#include "config.hpp"

namespace mpcore {

enum class Estimator : int {
  Exact = 0,  // |W||x| + |b| accumulated in fp32 (non-negative terms: accurate)
  Low = 1,    // the same sum accumulated in the low format (cheap; may stagnate or overflow)
  Norm = 2,   // ||W_i||_2 ||x||_2 + |b_i| (Cauchy-Schwarz upper bound; O(in + out) per input)
};

// c(n) in kappa * u * c(n) > tau: the growth of the rounding error with the length n.
enum class Factor : int {
  One = 0,   // c = 1 (the paper)
  Sqrt = 1,  // c = sqrt(n): the probabilistic growth
  N = 2,     // c = n: the worst-case growth
};

MPCORE_HD inline double growth_factor(Factor f, std::size_t n) {
  const double dn = static_cast<double>(n);
  return f == Factor::One ? 1.0 : f == Factor::Sqrt ? std::sqrt(dn) : dn;
}

// kappa_v from the numerator and the computed z. z = 0 gives infinity unless the
// numerator is 0 too (every term and the bias are zero: z is exact), which gives 0.
MPCORE_HD inline double inner_condition(double numerator, double z) {
  const double az = std::fabs(z);
  if (az == 0) return numerator == 0 ? 0.0 : HUGE_VAL;
  return numerator / az;
}

// kappa_phi * kappa_v, where a component with kappa_phi = 0 (a ReLU negative) has no
// error to amplify even when kappa_v is infinite.
MPCORE_HD inline double combined_condition(double kappa_phi, double kappa_v) {
  return kappa_phi == 0 ? 0.0 : kappa_phi * kappa_v;
}

// Which rung of a precision ladder (formats ordered by decreasing unit roundoff us[k])
// a component needs: the first k with kappa * us[k] * c <= tau. Components whose
// rung-0 result is not finite, or all of them when tau = 0 (no error tolerated), go
// to the top rung; so does any component no rung satisfies.
//
// kappa = 0 from kappa_phi = 0 (a ReLU negative) trusts the sign of z_low. With
// guard_sign, rung k is only trusted when its error estimate cannot flip that sign:
// kappa_v * us[k] * c < 1.
MPCORE_HD inline int choose_rung(double z_low, double kappa, double kappa_v, bool guard_sign, const double* us,
                                 int rungs, double c, double tau) {
  if (!std::isfinite(z_low) || tau == 0) return rungs - 1;
  for (int k = 0; k < rungs - 1; ++k) {
    const bool sign_unsure = guard_sign && kappa == 0 && !(kappa_v * us[k] * c < 1);
    if (kappa * us[k] * c <= tau && !sign_unsure) return k;
  }
  return rungs - 1;
}

}  // namespace mpcore
