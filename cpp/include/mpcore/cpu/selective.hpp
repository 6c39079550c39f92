// The low-then-selective-high layer (the paper's Algorithm 1), generalised to a
// precision ladder: compute every component with the cheapest accumulator,
// estimate kappa_phi * kappa_v from that result, and recompute each component
// once in the cheapest format whose estimated error meets the tolerance.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "../activation.hpp"
#include "../bounds.hpp"
#include "../condition.hpp"
#include "../format.hpp"
#include "../ladder_options.hpp"
#include "../matrix.hpp"
#include "condition.hpp"
#include "matmul.hpp"

namespace mpcore {

inline std::vector<char> differs(const double* a, const double* b, std::size_t total) {
  std::vector<char> d(total);
  for (std::size_t e = 0; e < total; ++e) d[e] = !same_value(a[e], b[e]);
  return d;
}

namespace cpu {

// x in the type its owner stores it in (stored.hpp); the layer's W and b likewise, packed
// once if it was prepared (every pass then reads the packed panels).
// given_rung: the rung of every component decided by the caller (a score other than kappa,
// or a budget), taken as is; nullptr: the kappa rule (choose_rung) decides.
inline LadderStats ladder_linear(const StoredMatrix& x, const PreparedLinear& layer, const LadderOptions& o,
                                 const LadderOutputs& out, const FirstPass* first = nullptr,
                                 const std::int32_t* given_rung = nullptr) {
  const StoredMatrix &w = layer.w(), &b = layer.bias();
  using clock = std::chrono::steady_clock;
  const std::string bad = validate_ladder(o);
  if (!bad.empty()) throw std::invalid_argument(bad);
  if (x.cols != w.cols)
    throw std::invalid_argument("x has " + std::to_string(x.cols) + " features but w has " +
                                std::to_string(w.cols) + " columns");
  const std::size_t batch = x.rows, nout = w.rows, n = w.cols, total = batch * nout;
  const int rungs = static_cast<int>(o.formats.size());
  if (given_rung)
    for (std::size_t e = 0; e < total; ++e)
      if (given_rung[e] < 0 || given_rung[e] >= rungs)
        throw std::invalid_argument("a given rung is outside 0.." + std::to_string(rungs - 1));
  LadderStats stats;
  stats.count.assign(rungs, 0);
  const double alpha = o.activation_alpha();

  auto options_for = [&](int k) { return rung_options(o, k); };

  // 1. Every component with the cheapest accumulator (or the caller's earlier pass).
  auto t0 = clock::now();
  std::vector<double> numerator(total);
  if (first) {
    std::copy(first->z, first->z + total, out.z);
    std::copy(first->numerator, first->numerator + total, numerator.begin());
  } else {
    matmul(x, layer, out.z, options_for(0));
  }
  auto t1 = clock::now();

  // 2. Condition estimate and the rung of every component. A rung-0 sum that was clamped
  // at max_finite without becoming non-finite is found by the same sum with no top.
  if (!first) inner_numerator(x, layer, o.estimator, o.formats[0], o.accumulation.threads, numerator.data());
  std::vector<char> clamped;
  if (rung_clamps_silently(o, 0)) {
    std::vector<double> free_z(total);
    matmul(x, layer, free_z.data(), unbounded_options(o, 0));
    clamped = differs(out.z, free_z.data(), total);
  }
  std::vector<double> us(rungs);
  for (int k = 0; k < rungs; ++k) us[k] = o.formats[k].unit_roundoff();
  const double c = growth_factor(o.factor, n);
  std::vector<std::vector<std::size_t>> chosen(rungs);
  for (std::size_t e = 0; e < total; ++e) {
    const double z = out.z[e];
    const double kappa_v = inner_condition(numerator[e], z);
    const double kappa = component_condition(o.activation, z, numerator[e], alpha);
    const int k = given_rung ? given_rung[e]
                             : choose_rung(z, kappa, kappa_v, o.guard_sign, us.data(), rungs, c, o.tau,
                                           !clamped.empty() && clamped[e]);
    out.kappa[e] = kappa;
    out.rung[e] = k;
    if (k) chosen[k].push_back(e);
  }
  auto t2 = clock::now();

  // 3. Recompute only the chosen components, each once, in its rung's format; a component
  // clamped in an intermediate rung moves on to the top rung.
  std::vector<char> top_clamped(total, 0);
  for (int k = 1; k < rungs; ++k) {
    std::vector<std::size_t>& list = chosen[k];
    if (list.empty()) continue;
    matmul_entries(x, w, b, list.data(), list.size(), out.z, options_for(k));
    if (!rung_clamps_silently(o, k)) continue;
    std::vector<double> free_z(total);
    matmul_entries(x, w, b, list.data(), list.size(), free_z.data(), unbounded_options(o, k));
    for (std::size_t e : list) {
      if (same_value(out.z[e], free_z[e])) continue;
      if (k == rungs - 1) {
        top_clamped[e] = 1;  // nothing above: its estimate and bound say so (infinite)
      } else {
        out.rung[e] = rungs - 1;
        chosen[rungs - 1].push_back(e);
      }
    }
  }
  auto t3 = clock::now();

  // 4. Activation, error estimates and bounds of the final components.
  std::vector<double> sum_abs;
  if (o.bounds && out.bound) {
    if (o.estimator == Estimator::Exact) {
      sum_abs = numerator;
    } else {
      sum_abs.resize(total);
      inner_numerator(x, layer, Estimator::Exact, o.formats[0], o.accumulation.threads, sum_abs.data());
    }
  }
  // fp32 sums of non-negative terms: S <= S_fp32 / (1 - gamma_m(2^-24)).
  const double s_scale = 1.0 / (1.0 - gamma(static_cast<double>(n) + 1, formats::fp32.unit_roundoff()));
  // Per rung: roundings a term goes through, and the largest unit roundoff and subnormal
  // spacing among the formats it is rounded to (the outer one too, for blocked order).
  const MatmulOptions& acc = o.accumulation;
  std::vector<double> rung_m(rungs), rung_unit(rungs), rung_tiny(rungs);
  for (int k = 0; k < rungs; ++k) {
    rung_m[k] = roundings_per_term(make_accumulation(options_for(k)), n, b.data != nullptr);
    rung_unit[k] = us[k];
    rung_tiny[k] = o.formats[k].smallest_subnormal();
    if (acc.order == Order::Blocked) {
      rung_unit[k] = std::max(rung_unit[k], acc.outer.unit_roundoff());
      rung_tiny[k] = std::max(rung_tiny[k], acc.outer.smallest_subnormal());
    }
  }
  for (std::size_t e = 0; e < total; ++e) {
    const int k = out.rung[e];
    const double z = out.z[e];
    out.y[e] = activate(o.activation, z, alpha);
    const double kappa = k ? component_condition(o.activation, z, numerator[e], alpha) : out.kappa[e];
    // A clamped sum has no error estimate or bound (only the top rung can keep one).
    out.err_est[e] = top_clamped[e] ? HUGE_VAL : kappa * us[k] * c;
    ++stats.count[k];
    if (!sum_abs.empty()) {
      const ErrorBound eb = error_bound(sum_abs[e] * s_scale, rung_m[k], rung_unit[k], rung_tiny[k], acc.rounding);
      out.bound[e] = top_clamped[e] ? HUGE_VAL : eb.worst;
      out.bound_prob[e] = top_clamped[e] ? HUGE_VAL : eb.probabilistic;
    }
  }
  auto secs = [](clock::time_point a, clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  stats.seconds_low = secs(t0, t1);
  stats.seconds_estimate = secs(t1, t2);
  stats.seconds_recompute = secs(t2, t3);
  return stats;
}

inline LadderStats ladder_linear(const StoredMatrix& x, const StoredMatrix& w, const StoredMatrix& b,
                                 const LadderOptions& o, const LadderOutputs& out, const FirstPass* first = nullptr) {
  return ladder_linear(x, PreparedLinear::view(w, b), o, out, first);
}

template <class T>
LadderStats ladder_linear(const MatrixView<T>& x, const MatrixView<T>& w, const VectorView<T>& b,
                          const LadderOptions& o, const LadderOutputs& out, const FirstPass* first = nullptr) {
  return ladder_linear(stored(x), stored(w), stored(b), o, out, first);
}

}  // namespace cpu
}  // namespace mpcore
