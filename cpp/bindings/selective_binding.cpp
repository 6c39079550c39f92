// Condition estimators and the selective / ladder layer.
#include <cstdint>
#include <optional>
#include <vector>

#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bindings.hpp"

namespace nb = nanobind;

namespace mpcore::python {

template <class T>
using Matrix = nb::ndarray<const T, nb::ndim<2>, nb::device::cpu>;
template <class T>
using Vector = nb::ndarray<const T, nb::ndim<1>, nb::device::cpu>;
using OutMatrix = nb::ndarray<double, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using OutRung = nb::ndarray<std::int32_t, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using Flat = nb::ndarray<const double, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using OutFlat = nb::ndarray<double, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

template <class T>
static MatrixView<T> view(const Matrix<T>& a) {
  return MatrixView<T>{a.data(), a.shape(0), a.shape(1), a.stride(0), a.stride(1)};
}
template <class T>
static VectorView<T> view(const std::optional<Vector<T>>& b) {
  return b ? VectorView<T>{b->data(), b->shape(0), b->stride(0)} : VectorView<T>{};
}

static void check_out(const OutMatrix& a, std::size_t rows, std::size_t cols, const char* name) {
  if (a.shape(0) != rows || a.shape(1) != cols) throw std::invalid_argument(std::string(name) + " has the wrong shape");
}

template <class T>
static nb::dict ladder(Matrix<T> x, Matrix<T> w, std::optional<Vector<T>> b, OutMatrix z, OutMatrix y,
                       OutMatrix kappa, OutMatrix err_est, OutRung rung, std::optional<OutMatrix> bound,
                       std::optional<OutMatrix> bound_prob, const std::vector<NamedFormat>& fmts, double tau,
                       const std::string& activation, double alpha, const std::string& estimator,
                       const std::string& factor, const std::string& rounding, const std::string& order,
                       std::size_t block, const NamedFormat& outer, std::uint64_t seed, int sr_bits, int threads, bool guard_sign) {
  const std::size_t batch = x.shape(0), nout = w.shape(0);
  for (auto* a : {&z, &y, &kappa, &err_est}) check_out(*a, batch, nout, "output");
  if (rung.shape(0) != batch || rung.shape(1) != nout) throw std::invalid_argument("rung has the wrong shape");
  if (bound) check_out(*bound, batch, nout, "bound");
  if (bound_prob) check_out(*bound_prob, batch, nout, "bound_prob");
  LadderOptions o;
  for (const auto& f : fmts) o.formats.push_back(f.spec);
  o.tau = tau;
  o.activation = parse_activation(activation);
  o.alpha = alpha;
  o.estimator = parse_estimator(estimator);
  o.factor = parse_factor(factor);
  o.rounding = parse_rounding(rounding);
  o.order = parse_order(order);
  o.block = block;
  o.outer = outer.spec;
  o.seed = seed;
  o.sr_bits = sr_bits;
  o.threads = threads;
  o.bounds = bound && bound_prob;
  o.guard_sign = guard_sign;
  LadderOutputs out{z.data(), y.data(), kappa.data(), err_est.data(), rung.data(),
                    o.bounds ? bound->data() : nullptr, o.bounds ? bound_prob->data() : nullptr};
  LadderStats stats;
  {
    nb::gil_scoped_release release;
    stats = cpu::ladder_linear(view(x), view(w), view(b), o, out);
  }
  nb::dict d;
  d["count"] = stats.count;
  d["seconds_low"] = stats.seconds_low;
  d["seconds_estimate"] = stats.seconds_estimate;
  d["seconds_recompute"] = stats.seconds_recompute;
  return d;
}

template <class T>
static void numerator(Matrix<T> x, Matrix<T> w, std::optional<Vector<T>> b, OutMatrix out,
                      const std::string& estimator, const NamedFormat& low, int threads) {
  check_out(out, x.shape(0), w.shape(0), "out");
  if (x.shape(1) != w.shape(1)) throw std::invalid_argument("x and w have different numbers of features");
  const Estimator e = parse_estimator(estimator);
  nb::gil_scoped_release release;
  cpu::inner_numerator(view(x), view(w), view(b), e, low.spec, threads, out.data());
}

void bind_selective(nb::module_& m) {
  m.def("ladder_linear", &ladder<float>, nb::arg("x"), nb::arg("w"), nb::arg("b").none(), nb::arg("z"),
        nb::arg("y"), nb::arg("kappa"), nb::arg("err_est"), nb::arg("rung"), nb::arg("bound").none(),
        nb::arg("bound_prob").none(), nb::arg("formats"), nb::arg("tau"), nb::arg("activation"), nb::arg("alpha"),
        nb::arg("estimator"), nb::arg("factor"), nb::arg("rounding"), nb::arg("order"), nb::arg("block"),
        nb::arg("outer"), nb::arg("seed"), nb::arg("sr_bits"), nb::arg("threads"), nb::arg("guard_sign"),
        "The precision-ladder layer into caller-owned outputs; returns per-rung counts and timings.");
  m.def("ladder_linear", &ladder<double>, nb::arg("x"), nb::arg("w"), nb::arg("b").none(), nb::arg("z"),
        nb::arg("y"), nb::arg("kappa"), nb::arg("err_est"), nb::arg("rung"), nb::arg("bound").none(),
        nb::arg("bound_prob").none(), nb::arg("formats"), nb::arg("tau"), nb::arg("activation"), nb::arg("alpha"),
        nb::arg("estimator"), nb::arg("factor"), nb::arg("rounding"), nb::arg("order"), nb::arg("block"),
        nb::arg("outer"), nb::arg("seed"), nb::arg("sr_bits"), nb::arg("threads"), nb::arg("guard_sign"));
  m.def("inner_numerator", &numerator<float>, nb::arg("x"), nb::arg("w"), nb::arg("b").none(), nb::arg("out"),
        nb::arg("estimator"), nb::arg("low"), nb::arg("threads"),
        "The numerator |W_i||x| + |b_i| of kappa_v by an estimator ('exact', 'low', 'norm').");
  m.def("inner_numerator", &numerator<double>, nb::arg("x"), nb::arg("w"), nb::arg("b").none(), nb::arg("out"),
        nb::arg("estimator"), nb::arg("low"), nb::arg("threads"));
  m.def(
      "inner_condition",
      [](Flat numerator, Flat z, OutFlat out) {
        if (numerator.shape(0) != z.shape(0) || out.shape(0) != z.shape(0))
          throw std::invalid_argument("numerator, z and out must have the same length");
        for (std::size_t i = 0; i < z.shape(0); ++i) out.data()[i] = inner_condition(numerator.data()[i], z.data()[i]);
      },
      nb::arg("numerator"), nb::arg("z"), nb::arg("out"), "kappa_v = numerator / |z| (0/0 -> 0, x/0 -> inf).");
  m.def(
      "activation",
      [](const std::string& name, Flat t, OutFlat out, double alpha, bool condition) {
        if (out.shape(0) != t.shape(0)) throw std::invalid_argument("out has the wrong length");
        const Activation a = parse_activation(name);
        for (std::size_t i = 0; i < t.shape(0); ++i)
          out.data()[i] = condition ? activation_condition(a, t.data()[i], alpha) : activate(a, t.data()[i], alpha);
      },
      nb::arg("name"), nb::arg("t"), nb::arg("out"), nb::arg("alpha"), nb::arg("condition"),
      "phi(t) (condition=False) or kappa_phi(t) (condition=True) elementwise.");
}

}  // namespace mpcore::python
