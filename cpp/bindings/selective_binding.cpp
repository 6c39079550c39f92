// Condition estimators and the selective / ladder layer.
#include <cstdint>
#include <optional>
#include <tuple>
#include <vector>

#include "arrays.hpp"

namespace mpcore::python {

static nb::dict ladder(AnyMatrix x, nb::object w, std::optional<AnyVector> b, OutMatrix z, OutMatrix y,
                       OutMatrix kappa, OutMatrix err_est, OutRung rung, std::optional<OutMatrix> bound,
                       std::optional<OutMatrix> bound_prob, const std::vector<NamedFormat>& fmts, double tau,
                       const std::string& activation, double alpha, const std::string& estimator,
                       const std::string& factor, const std::string& rounding, const std::string& order,
                       std::size_t block, const NamedFormat& outer, std::uint64_t seed, int sr_bits, int threads, bool guard_sign,
                       std::optional<OutMatrix> first_z, std::optional<OutMatrix> first_numerator,
                       std::optional<CodeTable> x_table, std::optional<CodeTable> w_table,
                       std::optional<CodeTable> b_table, std::optional<InRung> given_rung) {
  const cpu::PreparedLinear layer = layer_of(w, b, w_table, b_table);
  const std::size_t batch = x.shape(0), nout = layer.rows();
  for (auto* a : {&z, &y, &kappa, &err_est}) check_shape(*a, batch, nout, "output");
  if (rung.shape(0) != batch || rung.shape(1) != nout) throw std::invalid_argument("rung has the wrong shape");
  if (bound) check_shape(*bound, batch, nout, "bound");
  if (bound_prob) check_shape(*bound_prob, batch, nout, "bound_prob");
  LadderOptions o = ladder_options(fmts, tau, activation, alpha, estimator, factor, rounding, order, block, outer,
                                   seed, sr_bits, threads, guard_sign);
  o.bounds = bound && bound_prob;
  if (bool(first_z) != bool(first_numerator)) throw std::invalid_argument("first pass needs both z and numerator");
  if (first_z) {
    check_shape(*first_z, batch, nout, "first pass z");
    check_shape(*first_numerator, batch, nout, "first pass numerator");
  }
  const FirstPass first{first_z ? first_z->data() : nullptr, first_numerator ? first_numerator->data() : nullptr};
  LadderOutputs out{z.data(), y.data(), kappa.data(), err_est.data(), rung.data(),
                    o.bounds ? bound->data() : nullptr, o.bounds ? bound_prob->data() : nullptr};
  const cpu::StoredMatrix xs = stored_operand(x, x_table, "x");
  if (given_rung && (given_rung->shape(0) != batch || given_rung->shape(1) != nout))
    throw std::invalid_argument("given_rung has the wrong shape");
  LadderStats stats;
  {
    nb::gil_scoped_release release;
    stats = cpu::ladder_linear(xs, layer, o, out, first_z ? &first : nullptr, given_rung ? given_rung->data() : nullptr);
  }
  return stats_dict(stats);
}

static void numerator(AnyMatrix x, nb::object w, std::optional<AnyVector> b, OutMatrix out,
                      const std::string& estimator, const NamedFormat& low, int threads,
                      std::optional<CodeTable> x_table, std::optional<CodeTable> w_table,
                      std::optional<CodeTable> b_table) {
  const cpu::PreparedLinear layer = layer_of(w, b, w_table, b_table);
  check_shape(out, x.shape(0), layer.rows(), "out");
  if (x.shape(1) != layer.cols()) throw std::invalid_argument("x and w have different numbers of features");
  if (layer.bias().data && layer.bias().cols != layer.rows())
    throw std::invalid_argument("b must have one value per row of w");
  const Estimator e = parse_estimator(estimator);
  const cpu::StoredMatrix xs = stored_operand(x, x_table, "x");
  nb::gil_scoped_release release;
  cpu::inner_numerator(xs, layer, e, low.spec, threads, out.data());
}

void bind_selective(nb::module_& m) {
  const auto tables = [] {
    return std::make_tuple(nb::arg("x_table").none() = nb::none(), nb::arg("w_table").none() = nb::none(),
                           nb::arg("b_table").none() = nb::none());
  };
  m.def("ladder_linear", &ladder, nb::arg("x"), nb::arg("w"), nb::arg("b").none(), nb::arg("z"), nb::arg("y"),
        nb::arg("kappa"), nb::arg("err_est"), nb::arg("rung"), nb::arg("bound").none(), nb::arg("bound_prob").none(),
        nb::arg("formats"), nb::arg("tau"), nb::arg("activation"), nb::arg("alpha"), nb::arg("estimator"),
        nb::arg("factor"), nb::arg("rounding"), nb::arg("order"), nb::arg("block"), nb::arg("outer"), nb::arg("seed"),
        nb::arg("sr_bits"), nb::arg("threads"), nb::arg("guard_sign"), nb::arg("first_z").none() = nb::none(),
        nb::arg("first_numerator").none() = nb::none(), std::get<0>(tables()), std::get<1>(tables()),
        std::get<2>(tables()), nb::arg("given_rung").none() = nb::none(),
        "The precision-ladder layer into caller-owned outputs; returns per-rung counts and timings.");
  m.def("inner_numerator", &numerator, nb::arg("x"), nb::arg("w"), nb::arg("b").none(), nb::arg("out"),
        nb::arg("estimator"), nb::arg("low"), nb::arg("threads"), std::get<0>(tables()), std::get<1>(tables()),
        std::get<2>(tables()), "The numerator |W_i||x| + |b_i| of kappa_v by an estimator ('exact', 'low', 'norm').");
  m.def(
      "inner_condition",
      [](Flat numerator, Flat z, OutVector out) {
        if (numerator.shape(0) != z.shape(0) || out.shape(0) != z.shape(0))
          throw std::invalid_argument("numerator, z and out must have the same length");
        for (std::size_t i = 0; i < z.shape(0); ++i) out.data()[i] = inner_condition(numerator.data()[i], z.data()[i]);
      },
      nb::arg("numerator"), nb::arg("z"), nb::arg("out"), "kappa_v = numerator / |z| (0/0 -> 0, x/0 -> inf).");
  m.def(
      "component_condition",
      [](const std::string& name, Flat z, Flat numerator, OutVector out, double alpha) {
        if (numerator.shape(0) != z.shape(0) || out.shape(0) != z.shape(0))
          throw std::invalid_argument("z, numerator and out must have the same length");
        const Activation a = parse_activation(name);
        for (std::size_t i = 0; i < z.shape(0); ++i)
          out.data()[i] = component_condition(a, z.data()[i], numerator.data()[i], alpha);
      },
      nb::arg("name"), nb::arg("z"), nb::arg("numerator"), nb::arg("out"), nb::arg("alpha"),
      "kappa_phi(z) * kappa_v in the combined form |phi'(z)| numerator / |phi(z)| (the ladder's estimate).");
  m.def(
      "activation",
      [](const std::string& name, Flat t, OutVector out, double alpha, bool condition) {
        if (out.shape(0) != t.shape(0)) throw std::invalid_argument("out has the wrong length");
        const Activation a = parse_activation(name);
        for (std::size_t i = 0; i < t.shape(0); ++i)
          out.data()[i] = condition ? activation_condition(a, t.data()[i], alpha) : activate(a, t.data()[i], alpha);
      },
      nb::arg("name"), nb::arg("t"), nb::arg("out"), nb::arg("alpha"), nb::arg("condition"),
      "phi(t) (condition=False) or kappa_phi(t) (condition=True) elementwise.");
}

}  // namespace mpcore::python
