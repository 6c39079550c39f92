// The low-then-selective-high layer (the paper's Algorithm 1), generalised to a precision
// ladder, written once over a backend: compute every component with the cheapest
// accumulator, estimate kappa_phi * kappa_v from that result, and recompute each component
// once in the cheapest format whose estimated error meets the tolerance.
//
// A backend computes sums into host arrays (batch x out, row-major); everything else (the
// decisions, the clamp checks, the activation, the estimates and bounds) happens here, on
// the host, with the functions shared by every backend. A Backend has
//   std::size_t rows(), outputs(), terms(); bool has_bias();
//   void all(const MatmulOptions&, double* z);                      every component
//   void entries(const std::vector<std::size_t>&, const MatmulOptions&, double* z);  listed ones
//   void numerator(Estimator, const Format& low, double* num);       |W_i||x| + |b_i|
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "../analysis/activation.hpp"
#include "../analysis/bounds.hpp"
#include "../analysis/condition.hpp"
#include "../cpu/parallel.hpp"
#include "ladder_options.hpp"

namespace mpcore {

namespace detail {

// f(e) for every component e in [0, total), on up to `threads` threads (each component is
// decided alone, so the result does not depend on the partition).
template <class F>
void for_components(std::size_t total, int threads, const F& f) {
  constexpr std::size_t kBlock = 4096;
  cpu::parallel_for((total + kBlock - 1) / kBlock, threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t e = begin * kBlock, last = std::min(total, end * kBlock); e < last; ++e) f(e);
  });
}

// Where rung k's sums were clamped at max_finite and stayed finite: the same sums with no
// top on the formats differ. Empty when the rung cannot clamp silently.
template <class Backend>
std::vector<char> clamped_components(Backend& be, const LadderOptions& o, const double* z) {
  if (!rung_clamps_silently(o, 0)) return {};
  const std::size_t total = be.rows() * be.outputs();
  std::vector<double> free_z(total);
  be.all(unbounded_options(o, 0), free_z.data());
  std::vector<char> clamped(total);
  for (std::size_t e = 0; e < total; ++e) clamped[e] = !same_value(z[e], free_z[e]);
  return clamped;
}

// Recomputes the chosen components of rungs 1.. in their formats; a component clamped in
// an intermediate rung moves on to the top rung, one clamped in the top rung is marked.
template <class Backend>
std::vector<char> recompute(Backend& be, const LadderOptions& o, std::vector<std::vector<std::size_t>>& chosen,
                            const LadderOutputs& out) {
  const int rungs = static_cast<int>(o.formats.size());
  std::vector<char> top_clamped(be.rows() * be.outputs(), 0);
  for (int k = 1; k < rungs; ++k) {
    const std::vector<std::size_t>& list = chosen[k];
    if (list.empty()) continue;
    be.entries(list, rung_options(o, k), out.z);
    if (!rung_clamps_silently(o, k)) continue;
    std::vector<double> free_z(top_clamped.size());
    be.entries(list, unbounded_options(o, k), free_z.data());
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
  return top_clamped;
}

// Per rung: the roundings a term goes through, and the largest unit roundoff and subnormal
// spacing among the formats it is rounded to (the outer one too, for blocked order).
struct RungErrors {
  std::vector<double> roundings, unit, tiny;
};

inline RungErrors rung_errors(const LadderOptions& o, std::size_t n, bool bias) {
  const int rungs = static_cast<int>(o.formats.size());
  const MatmulOptions& acc = o.accumulation;
  RungErrors r{std::vector<double>(rungs), std::vector<double>(rungs), std::vector<double>(rungs)};
  for (int k = 0; k < rungs; ++k) {
    r.roundings[k] = roundings_per_term(make_accumulation(rung_options(o, k)), n, bias);
    r.unit[k] = o.formats[k].unit_roundoff();
    r.tiny[k] = o.formats[k].smallest_subnormal();
    if (acc.order == Order::Blocked) {
      r.unit[k] = std::max(r.unit[k], acc.outer.unit_roundoff());
      r.tiny[k] = std::max(r.tiny[k], acc.outer.smallest_subnormal());
    }
  }
  return r;
}

// The activation and error estimate of a component in its final rung k (kappa: its
// rung-0 estimate, recomputed from z for k > 0). top_clamped: the recompute's marks, or null.
// activation: o.activation, or it as a compile-time constant (with_activation).
template <class ActivationOf>
void final_component(const LadderOptions& o, ActivationOf activation, std::size_t e, double numerator, double c,
                     const char* top_clamped, const LadderOutputs& out) {
  const int k = out.rung[e];
  const double z = out.z[e], alpha = o.activation_alpha();
  out.y[e] = activate(activation, z, alpha);
  const double kappa = k ? component_condition(activation, z, numerator, alpha) : out.kappa[e];
  // A clamped sum has no error estimate or bound (only the top rung can keep one).
  out.err_est[e] = top_clamped && top_clamped[e] ? HUGE_VAL : kappa * o.formats[k].unit_roundoff() * c;
}

// The recomputed components' activations and error estimates (rung 0's were written with
// the decisions), the a-priori bounds of every component where out.bound is set, and the
// count per rung.
template <class Backend>
void finish(Backend& be, const LadderOptions& o, const std::vector<double>& numerator,
            const std::vector<std::vector<std::size_t>>& chosen, const std::vector<char>& top_clamped,
            const LadderOutputs& out, LadderStats& stats) {
  const std::size_t total = be.rows() * be.outputs(), n = be.terms();
  const double c = growth_factor(o.factor, n);
  std::size_t recomputed = 0;
  for (std::size_t k = 1; k < chosen.size(); ++k) {
    const std::vector<std::size_t>& list = chosen[k];
    with_activation(o.activation, [&](auto activation) {
      for_components(list.size(), o.accumulation.threads, [&](std::size_t i) {
        const std::size_t e = list[i];  // once, in its final rung (a clamped one is listed twice)
        if (out.rung[e] == static_cast<int>(k))
          final_component(o, activation, e, numerator[e], c, top_clamped.data(), out);
      });
    });
    for (std::size_t e : list) stats.count[k] += out.rung[e] == static_cast<int>(k);
    recomputed += stats.count[k];
  }
  stats.count[0] = total - recomputed;  // every other component stayed in rung 0
  if (o.bounds && out.bound) {
    std::vector<double> sum_abs = numerator;
    if (o.estimator != Estimator::Fp32) be.numerator(Estimator::Fp32, o.formats[0], sum_abs.data());
    // fp32 sums of non-negative terms: S <= S_fp32 / (1 - gamma_m(2^-24)).
    const double s_scale = 1.0 / (1.0 - gamma(static_cast<double>(n) + 1, formats::fp32.unit_roundoff()));
    const RungErrors r = rung_errors(o, n, be.has_bias());
    for_components(total, o.accumulation.threads, [&](std::size_t e) {
      const int k = out.rung[e];
      const ErrorBound eb =
          error_bound(sum_abs[e] * s_scale, r.roundings[k], r.unit[k], r.tiny[k], o.accumulation.rounding);
      out.bound[e] = top_clamped[e] ? HUGE_VAL : eb.worst;
      out.bound_prob[e] = top_clamped[e] ? HUGE_VAL : eb.probabilistic;
    });
  }
}

}  // namespace detail

// The ladder on `be`. first: a rung-0 pass computed earlier for the same operands and
// options (z and the numerator), or null. given_rung: the rung of every component decided
// by the caller (a score other than kappa, or a budget), taken as is; null: the kappa rule
// (choose_rung) decides.
template <class Backend>
LadderStats run_ladder(Backend& be, const LadderOptions& o, const LadderOutputs& out, const FirstPass* first = nullptr,
                       const std::int32_t* given_rung = nullptr) {
  using clock = std::chrono::steady_clock;
  const std::string bad = validate_ladder(o);
  if (!bad.empty()) throw std::invalid_argument(bad);
  const std::size_t total = be.rows() * be.outputs();
  const int rungs = static_cast<int>(o.formats.size());
  if (given_rung)
    for (std::size_t e = 0; e < total; ++e)
      if (given_rung[e] < 0 || given_rung[e] >= rungs)
        throw std::invalid_argument("a given rung is outside 0.." + std::to_string(rungs - 1));
  LadderStats stats;
  stats.count.assign(rungs, 0);

  // 1. Every component with the cheapest accumulator (or the caller's earlier pass).
  const auto t0 = clock::now();
  std::vector<double> numerator(total);
  if (first) {
    std::copy(first->z, first->z + total, out.z);
    std::copy(first->numerator, first->numerator + total, numerator.begin());
  } else {
    be.all(rung_options(o, 0), out.z);
  }
  const auto t1 = clock::now();

  // 2. Condition estimate and the rung of every component.
  if (!first) be.numerator(o.estimator, o.formats[0], numerator.data());
  const std::vector<char> clamped = detail::clamped_components(be, o, out.z);
  std::vector<double> us(rungs);
  for (int k = 0; k < rungs; ++k) us[k] = o.formats[k].unit_roundoff();
  const double c = growth_factor(o.factor, be.terms()), alpha = o.activation_alpha();
  with_activation(o.activation, [&](auto activation) {
    detail::for_components(total, o.accumulation.threads, [&](std::size_t e) {
      const double z = out.z[e];
      const double kappa = component_condition(activation, z, numerator[e], alpha);
      const int k = given_rung ? given_rung[e]
                               : choose_rung(z, kappa, inner_condition(numerator[e], z), o.guard_sign, us.data(),
                                             rungs, c, o.tau, !clamped.empty() && clamped[e]);
      out.kappa[e] = kappa;
      out.rung[e] = k;
      if (k == 0) detail::final_component(o, activation, e, numerator[e], c, nullptr, out);
    });
  });
  std::vector<std::vector<std::size_t>> chosen(rungs);
  for (std::size_t e = 0; e < total; ++e)
    if (out.rung[e]) chosen[out.rung[e]].push_back(e);
  const auto t2 = clock::now();

  // 3. Recompute only the chosen components, each once, in its rung's format.
  const std::vector<char> top_clamped = detail::recompute(be, o, chosen, out);
  const auto t3 = clock::now();

  // 4. Activation, error estimates and bounds of the final components.
  detail::finish(be, o, numerator, chosen, top_clamped, out, stats);
  auto secs = [](clock::time_point a, clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  stats.seconds_low = secs(t0, t1);
  stats.seconds_estimate = secs(t1, t2);
  stats.seconds_recompute = secs(t2, t3);
  return stats;
}

}  // namespace mpcore
