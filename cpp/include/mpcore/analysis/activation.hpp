// Activations phi and their relative condition numbers kappa_phi(t) = |t phi'(t) / phi(t)|,
// with the limits where the formula is 0/0. kappa_phi bounds how much a relative
// error in the pre-activation t is amplified in phi(t).
#pragma once

#include <cmath>
#include <type_traits>

#include "../config.hpp"

namespace mpcore {

enum class Activation : int {
  Identity = 0,   // t;                   kappa = 1 (also at 0, the limit)
  Relu = 1,       // max(t, 0);           kappa = 0 for t < 0, 1 for t > 0; 1 at 0 (right limit:
                  //                      a zero result may hide a small positive value)
  LeakyRelu = 2,  // t, or alpha t for t < 0;  kappa = 1 everywhere (alpha != 0), as relu if alpha = 0
  Tanh = 3,       // tanh t;              kappa = 2t / sinh 2t; 1 at 0
  Sigmoid = 4,    // 1 / (1 + e^-t);      kappa = |t| (1 - sigmoid t) = |t| / (1 + e^t); 0 at 0
  GeluErf = 5,    // t Phi(t);            kappa = |1 + t pdf(t) / Phi(t)|; 1 at 0
  GeluTanh = 6,   // t/2 (1 + tanh(c (t + 0.044715 t^3))), c = sqrt(2/pi);
                  //                      kappa = |1 + t c (1 + 0.134145 t^2)(1 - tanh(.))|; 1 at 0
  Silu = 7,       // t sigmoid(t);        kappa = |1 + t (1 - sigmoid t)|; 1 at 0
  Softplus = 8,   // log(1 + e^t);        kappa = |t| sigmoid(t) / softplus(t); 0 at 0
  Elu = 9,        // t, or alpha (e^t - 1) for t <= 0;  kappa = 1 for t > 0, t e^t / expm1(t) for t < 0; 1 at 0
};

// f(std::integral_constant<Activation, a>{}): code over many components with a as a
// compile-time constant, so the switches below fold away in its inner loop.
template <class F>
void with_activation(Activation a, F&& f) {
  using A = Activation;
  switch (a) {
    case A::Identity: return f(std::integral_constant<A, A::Identity>{});
    case A::Relu: return f(std::integral_constant<A, A::Relu>{});
    case A::LeakyRelu: return f(std::integral_constant<A, A::LeakyRelu>{});
    case A::Tanh: return f(std::integral_constant<A, A::Tanh>{});
    case A::Sigmoid: return f(std::integral_constant<A, A::Sigmoid>{});
    case A::GeluErf: return f(std::integral_constant<A, A::GeluErf>{});
    case A::GeluTanh: return f(std::integral_constant<A, A::GeluTanh>{});
    case A::Silu: return f(std::integral_constant<A, A::Silu>{});
    case A::Softplus: return f(std::integral_constant<A, A::Softplus>{});
    case A::Elu: return f(std::integral_constant<A, A::Elu>{});
  }
  return f(a);  // not an enumerator: the runtime switches decide (and reject it)
}

// alpha when the caller gives none (PyTorch's defaults): leaky_relu's slope 0.01, elu's
// scale 1; the other activations take no parameter.
MPCORE_HD inline double default_alpha(Activation a) {
  return a == Activation::LeakyRelu ? 0.01 : a == Activation::Elu ? 1.0 : 0.0;
}

inline constexpr double kGeluTanhC = 0.7978845608028654;  // sqrt(2 / pi)

namespace detail {
MPCORE_HD inline double sigmoid(double t) {
  // Never forms e^t for large positive t.
  if (t >= 0) return 1.0 / (1.0 + std::exp(-t));
  const double e = std::exp(t);
  return e / (1.0 + e);
}
MPCORE_HD inline double softplus(double t) { return t > 0 ? t + std::log1p(std::exp(-t)) : std::log1p(std::exp(t)); }
MPCORE_HD inline double normal_cdf(double t) { return 0.5 * std::erfc(-t * 0.7071067811865476); }
MPCORE_HD inline double normal_pdf(double t) { return 0.3989422804014327 * std::exp(-0.5 * t * t); }
}  // namespace detail

MPCORE_HD inline double activate(Activation a, double t, double alpha = 0.0) {
  using namespace detail;
  switch (a) {
    case Activation::Identity: return t;
    case Activation::Relu: return t > 0 ? t : (t == t ? 0.0 : t);
    case Activation::LeakyRelu: return t >= 0 ? t : alpha * t;
    case Activation::Tanh: return std::tanh(t);
    case Activation::Sigmoid: return sigmoid(t);
    case Activation::GeluErf: return t * normal_cdf(t);
    case Activation::GeluTanh: return 0.5 * t * (1.0 + std::tanh(kGeluTanhC * (t + 0.044715 * t * t * t)));
    case Activation::Silu: return t * sigmoid(t);
    case Activation::Softplus: return softplus(t);
    default: return t > 0 ? t : alpha * std::expm1(t);  // Elu
  }
}

namespace detail {
// kappa_phi(t) for finite t.
MPCORE_HD inline double finite_activation_condition(Activation a, double t, double alpha) {
  switch (a) {
    case Activation::Identity: return 1.0;
    case Activation::Relu: return t < 0 ? 0.0 : 1.0;
    case Activation::LeakyRelu: return (t < 0 && alpha == 0.0) ? 0.0 : 1.0;
    case Activation::Tanh: {
      if (t == 0) return 1.0;
      const double s = std::sinh(2 * t);
      return std::isinf(s) ? 0.0 : std::fabs(2 * t / s);  // |t| > 355: kappa -> 0
    }
    case Activation::Sigmoid: return std::fabs(t) * sigmoid(-t);
    case Activation::GeluErf: {
      if (t == 0) return 1.0;
      double ratio;  // pdf(t) / Phi(t)
      if (t > -20) {
        ratio = normal_pdf(t) / normal_cdf(t);
      } else {
        // Mills ratio asymptotics: Phi(t) ~ pdf(t)/|t| (1 - 1/t^2 + 3/t^4 - 15/t^6 + 105/t^8).
        const double r = 1.0 / (t * t);
        ratio = -t / (1 - r + 3 * r * r - 15 * r * r * r + 105 * r * r * r * r);
      }
      return std::fabs(1.0 + t * ratio);
    }
    case Activation::GeluTanh: {
      const double u = kGeluTanhC * (t + 0.044715 * t * t * t);
      const double one_minus = 1.0 - std::tanh(u);  // exactly 0 from u ~ 19 on: kappa = 1
      if (one_minus == 0) return 1.0;
      return std::fabs(1.0 + t * kGeluTanhC * (1.0 + 0.134145 * t * t) * one_minus);
    }
    case Activation::Silu: return std::fabs(1.0 + t * sigmoid(-t));
    case Activation::Softplus: {
      if (t == 0) return 0.0;
      if (t < -30) return -t;  // sigmoid / softplus = 1 - O(e^t); both underflow below -745
      return std::fabs(t) * sigmoid(t) / softplus(t);
    }
    default: {  // Elu
      if (t >= 0) return 1.0;
      if (alpha == 0.0) return 0.0;
      const double em1 = std::expm1(t);
      return em1 == 0 ? 1.0 : std::fabs(t * std::exp(t) / em1);
    }
  }
}

// The value at +-inf is the limit, taken as the formula at +-1e300: 0, 1, or huge (-> inf).
template <class F>
MPCORE_HD inline double at_infinity(double t, F f) {
  const double v = f(t > 0 ? 1e300 : -1e300);
  return v > 1e200 ? HUGE_VAL : v;
}
}  // namespace detail

MPCORE_HD inline double activation_condition(Activation a, double t, double alpha = 0.0) {
  using namespace detail;
  if (t != t) return t;  // NaN in, NaN out
  auto finite = [&](double v) { return finite_activation_condition(a, v, alpha); };
  return std::isinf(t) ? at_infinity(t, finite) : finite(t);
}

// |phi'(t) / phi(t)|, the activation's logarithmic derivative, with its limits: infinite
// where phi(t) = 0 and phi'(t) != 0, 0 where phi is flat (ReLU negatives). It is
// kappa_phi(t) / |t| for t != 0, and it stays finite at t = 0 for activations with
// phi(0) != 0 (sigmoid: 1/2, softplus: 1/(2 ln 2)), where kappa_phi(0) = 0 and
// kappa_v(0) = inf would meet as 0 * inf.
namespace detail {
MPCORE_HD inline double finite_log_derivative(Activation a, double t, double alpha) {
  switch (a) {
    case Activation::Sigmoid: return sigmoid(-t);  // phi'/phi = 1 - sigmoid(t)
    case Activation::Softplus:
      if (t < -30) return 1.0;  // sigmoid(t) / softplus(t) = 1 - O(e^t); both underflow below -745
      return sigmoid(t) / softplus(t);
    default: {
      if (t == 0) {  // phi(0) = 0: infinite unless phi is flat on the side the error may go
        return HUGE_VAL;
      }
      const double k = finite_activation_condition(a, t, alpha);
      return k == 0 ? 0.0 : k / std::fabs(t);
    }
  }
}
}  // namespace detail

MPCORE_HD inline double activation_log_derivative(Activation a, double t, double alpha = 0.0) {
  using namespace detail;
  if (t != t) return t;
  auto finite = [&](double v) { return finite_log_derivative(a, v, alpha); };
  return std::isinf(t) ? at_infinity(t, finite) : finite(t);
}

}  // namespace mpcore
