// The options and outputs of the low-then-selective-high layer (the precision ladder),
// shared by the CPU and CUDA backends.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "../analysis/activation.hpp"
#include "../analysis/condition.hpp"
#include "../numerics/format.hpp"
#include "matmul_options.hpp"

namespace mpcore {

struct LadderOptions {
  std::vector<Format> formats;   // rung 0 (cheapest) first; unit roundoff non-increasing
  double tau = 0.0;              // tolerance on kappa * u * c(n); 0 recomputes everything
  Activation activation = Activation::Identity;
  std::optional<double> alpha;   // slope of leaky_relu, scale of elu (none: default_alpha)
  Estimator estimator = Estimator::Fp32;
  Factor factor = Factor::One;
  MatmulOptions accumulation;    // rounding, order, block, outer, seed, sr_bits, threads of every
                                 // rung (its acc is replaced by each rung's format; estimators use RNE)
  bool bounds = true;            // also compute the a-priori error bounds
  bool guard_sign = false;       // recompute ReLU negatives whose sign the estimate cannot trust

  double activation_alpha() const { return alpha ? *alpha : default_alpha(activation); }
};

// Caller-owned outputs, each batch x out row-major (bound pointers may be null).
struct LadderOutputs {
  double* z;           // pre-activation, each component in its rung's format
  double* y;           // activation(z)
  double* kappa;       // kappa_phi(z_low) * kappa_v used for the decision
  double* err_est;     // kappa(final z) * u(rung) * c(n): estimated relative error of z
  std::int32_t* rung;  // the format index each component ended in
  double* bound;       // worst-case absolute error bound of z
  double* bound_prob;  // probabilistic absolute error bound of z
};

// A rung-0 pass computed earlier for the same x, W, b and options (a tau sweep reuses it):
// z in formats[0] and the estimator's numerator, batch x out each.
struct FirstPass {
  const double* z;
  const double* numerator;
};

struct LadderStats {
  std::vector<std::size_t> count;  // components per rung
  double seconds_low = 0, seconds_estimate = 0, seconds_recompute = 0;
};

inline std::string validate_ladder(const LadderOptions& o) {
  if (o.formats.empty()) return "formats must not be empty";
  for (std::size_t k = 0; k < o.formats.size(); ++k) {
    const std::string bad = validate(o.formats[k]);
    if (!bad.empty()) return "formats[" + std::to_string(k) + "]: " + bad;
    if (k && o.formats[k].unit_roundoff() > o.formats[k - 1].unit_roundoff())
      return "formats must go from least to most precise: formats[" + std::to_string(k) +
             "] has a larger unit roundoff than formats[" + std::to_string(k - 1) + "]";
  }
  if (!(o.tau >= 0)) return "tau must be >= 0 (and not NaN)";
  if (o.alpha && !std::isfinite(*o.alpha)) return "alpha must be finite";
  return {};
}

// The matmul options of rung k: its format, the ladder's rounding, order and seed.
inline MatmulOptions rung_options(const LadderOptions& o, int k) {
  MatmulOptions m = o.accumulation;
  m.acc = o.formats[k];
  return m;
}

// Rung k's options with no top on its formats (see unbounded() in condition.hpp).
inline MatmulOptions unbounded_options(const LadderOptions& o, int k) {
  MatmulOptions m = rung_options(o, k);
  m.acc = unbounded(m.acc);
  m.outer = unbounded(m.outer);
  return m;
}

// Whether rung k's sums can clamp at max_finite and stay finite (then it is checked).
inline bool rung_clamps_silently(const LadderOptions& o, int k) {
  const MatmulOptions m = rung_options(o, k);
  return clamps_silently(m.acc, m.rounding) || (m.order == Order::Blocked && clamps_silently(m.outer, m.rounding));
}

}  // namespace mpcore
