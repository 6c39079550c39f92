// Condition estimators and the selective / ladder layer.
#include <cstdint>
#include <optional>
#include <tuple>
#include <vector>

#include "arrays.hpp"

namespace mpcore::python {

static void check_input(const std::optional<InMatrix>& a, std::size_t rows, std::size_t cols, const char* name) {
  if (a && (a->shape(0) != rows || a->shape(1) != cols))
    throw std::invalid_argument(std::string(name) + " must have shape (" + std::to_string(rows) + ", " +
                                std::to_string(cols) + ")");
}

static nb::dict ladder(AnyMatrix x, nb::object w, std::optional<AnyVector> b, const LadderOptions& o,
                       std::optional<InMatrix> first_z, std::optional<InMatrix> first_numerator,
                       std::optional<CodeTable> x_table, std::optional<CodeTable> w_table,
                       std::optional<CodeTable> b_table, std::optional<InRung> given_rung) {
  const cpu::PreparedLinear layer = layer_of(w, b, w_table, b_table);
  const std::size_t batch = x.shape(0), nout = layer.rows();
  if (bool(first_z) != bool(first_numerator)) throw std::invalid_argument("first pass needs both z and numerator");
  check_input(first_z, batch, nout, "first pass z");
  check_input(first_numerator, batch, nout, "first pass numerator");
  if (given_rung && (given_rung->shape(0) != batch || given_rung->shape(1) != nout))
    throw std::invalid_argument("given_rung has the wrong shape");
  const FirstPass first{first_z ? first_z->data() : nullptr, first_numerator ? first_numerator->data() : nullptr};
  const cpu::StoredMatrix xs = stored_operand(x, x_table, "x");
  LadderArrays arrays(batch, nout, o.bounds);
  LadderStats stats;
  {
    nb::gil_scoped_release release;
    stats = cpu::ladder_linear(xs, layer, o, arrays.outputs(), first_z ? &first : nullptr,
                               given_rung ? given_rung->data() : nullptr);
  }
  return arrays.dict(stats);
}

// ladder_linear(x[b], w[b]) for every b (no bias), each exactly the two-dimensional call,
// side by side on the threads (each slice on one: small products); the outputs' rows are
// b * L + r, and so are those of the optional first pass and given rungs (B * L, S).
static nb::dict ladder_batched(AnyArray3 x, AnyArray3 w, const LadderOptions& o, std::optional<InMatrix> first_z,
                               std::optional<InMatrix> first_numerator, std::optional<InRung> given_rung) {
  const BatchedOperands ops = batched_operands(x, w);
  const std::string bad = validate_ladder(o);
  if (!bad.empty()) throw std::invalid_argument(bad);
  const std::size_t batch = x.shape(0), rows = x.shape(1), nout = w.shape(1), slice_size = rows * nout;
  const std::size_t all_rows = checked_product(batch, rows, "the result");
  if (bool(first_z) != bool(first_numerator)) throw std::invalid_argument("first pass needs both z and numerator");
  check_input(first_z, all_rows, nout, "first pass z");
  check_input(first_numerator, all_rows, nout, "first pass numerator");
  if (given_rung && (given_rung->shape(0) != all_rows || given_rung->shape(1) != nout))
    throw std::invalid_argument("given_rung must have shape (" + std::to_string(all_rows) + ", " +
                                std::to_string(nout) + ")");
  LadderArrays arrays(all_rows, nout, o.bounds);
  std::vector<LadderStats> stats(batch);
  LadderOptions single = o;
  single.accumulation.threads = 1;
  {
    nb::gil_scoped_release release;
    cpu::parallel_for(batch, o.accumulation.threads, [&](std::size_t begin, std::size_t end) {
      for (std::size_t b = begin; b < end; ++b) {
        const std::size_t at = b * slice_size;
        const FirstPass first{first_z ? first_z->data() + at : nullptr,
                              first_numerator ? first_numerator->data() + at : nullptr};
        stats[b] = cpu::ladder_linear(ops.x[b], cpu::PreparedLinear::view(ops.w[b], cpu::StoredMatrix{}), single,
                                      arrays.outputs(at), first_z ? &first : nullptr,
                                      given_rung ? given_rung->data() + at : nullptr);
      }
    });
  }
  LadderStats total;
  total.count.assign(o.formats.size(), 0);
  for (const LadderStats& s : stats) {
    for (std::size_t k = 0; k < s.count.size(); ++k) total.count[k] += s.count[k];
    total.seconds_low += s.seconds_low;
    total.seconds_estimate += s.seconds_estimate;
    total.seconds_recompute += s.seconds_recompute;
  }
  return arrays.dict(total);
}

static NewMatrix<double> numerator(AnyMatrix x, nb::object w, std::optional<AnyVector> b, nb::handle estimator,
                                   nb::handle low, nb::handle threads, std::optional<CodeTable> x_table,
                                   std::optional<CodeTable> w_table, std::optional<CodeTable> b_table) {
  const cpu::PreparedLinear layer = layer_of(w, b, w_table, b_table);
  if (x.shape(1) != layer.cols()) throw std::invalid_argument("x and w have different numbers of features");
  if (layer.bias().data && layer.bias().cols != layer.rows())
    throw std::invalid_argument("b must have one value per row of w");
  const Estimator e = estimator_value(estimator);
  const Format low_f = format_value(low, "low");
  const int threads_n = threads_value(threads);
  const cpu::StoredMatrix xs = stored_operand(x, x_table, "x");
  NewMatrix<double> out = new_matrix<double>(x.shape(0), layer.rows());
  nb::gil_scoped_release release;
  cpu::inner_numerator(xs, layer, e, low_f, threads_n, out.data());
  return out;
}

// inner_numerator(x[b], w[b]) for every b (no bias), rows b * L + r, each slice on one thread.
static NewMatrix<double> numerator_batched(AnyArray3 x, AnyArray3 w, nb::handle estimator, nb::handle low,
                                           nb::handle threads) {
  const BatchedOperands ops = batched_operands(x, w);
  const Estimator e = estimator_value(estimator);
  const Format low_f = format_value(low, "low");
  const int threads_n = threads_value(threads);
  const std::size_t batch = x.shape(0), rows = x.shape(1), nout = w.shape(1);
  NewMatrix<double> out = new_matrix<double>(checked_product(batch, rows, "the result"), nout);
  double* data = out.data();
  nb::gil_scoped_release release;
  cpu::parallel_for(batch, threads_n, [&](std::size_t begin, std::size_t end) {
    for (std::size_t b = begin; b < end; ++b)
      cpu::inner_numerator(ops.x[b], cpu::PreparedLinear::view(ops.w[b], cpu::StoredMatrix{}), e, low_f, 1,
                           data + b * rows * nout);
  });
  return out;
}

void bind_selective(nb::module_& m) {
  const auto tables = [] {
    return std::make_tuple(nb::arg("x_table").none() = nb::none(), nb::arg("w_table").none() = nb::none(),
                           nb::arg("b_table").none() = nb::none());
  };
  m.def("ladder_linear", &ladder, nb::arg("x"), nb::arg("w"), nb::arg("b").none(), nb::arg("options"),
        nb::arg("first_z").none() = nb::none(), nb::arg("first_numerator").none() = nb::none(),
        std::get<0>(tables()), std::get<1>(tables()), std::get<2>(tables()),
        nb::arg("given_rung").none() = nb::none(),
        "The precision-ladder layer: a dict of new arrays (z, y, kappa, err_est, rung, bound, bound_prob), the "
        "per-rung counts and the seconds of each phase.");
  m.def("ladder_batched", &ladder_batched, nb::arg("x"), nb::arg("w"), nb::arg("options"),
        nb::arg("first_z").none() = nb::none(), nb::arg("first_numerator").none() = nb::none(),
        nb::arg("given_rung").none() = nb::none(),
        "ladder_linear(x[b], w[b]) for x (B, L, E) and w (B, S, E), float32 or float64, no bias: each exactly "
        "the two-dimensional call; the arrays of the dict, and first_z, first_numerator and given_rung (as "
        "ladder_linear takes them), have rows b * L + r.");
  m.def("inner_numerator_batched", &numerator_batched, nb::arg("x"), nb::arg("w"), nb::arg("estimator"),
        nb::arg("low"), nb::arg("threads").none() = nb::none(),
        "inner_numerator(x[b], w[b]) for x (B, L, E) and w (B, S, E), no bias: rows b * L + r, (B * L, S).");
  m.def("inner_numerator", &numerator, nb::arg("x"), nb::arg("w"), nb::arg("b").none(), nb::arg("estimator"),
        nb::arg("low"), nb::arg("threads").none() = nb::none(), std::get<0>(tables()), std::get<1>(tables()),
        std::get<2>(tables()), "The numerator |W_i||x| + |b_i| of kappa_v by an estimator ('fp32', 'low', 'norm').");
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
      [](nb::handle name, Flat z, Flat numerator, OutVector out, double alpha) {
        if (numerator.shape(0) != z.shape(0) || out.shape(0) != z.shape(0))
          throw std::invalid_argument("z, numerator and out must have the same length");
        const Activation a = activation_value(name);
        for (std::size_t i = 0; i < z.shape(0); ++i)
          out.data()[i] = component_condition(a, z.data()[i], numerator.data()[i], alpha);
      },
      nb::arg("name"), nb::arg("z"), nb::arg("numerator"), nb::arg("out"), nb::arg("alpha"),
      "kappa_phi(z) * kappa_v in the combined form |phi'(z)| numerator / |phi(z)| (the ladder's estimate).");
  m.def(
      "activation",
      [](nb::handle name, Flat t, OutVector out, nb::handle alpha, bool condition) {
        if (out.shape(0) != t.shape(0)) throw std::invalid_argument("out has the wrong length");
        const Activation a = activation_value(name);
        const double slope = alpha.is_none() ? default_alpha(a) : real_value(alpha, "alpha");
        for (std::size_t i = 0; i < t.shape(0); ++i)
          out.data()[i] = condition ? activation_condition(a, t.data()[i], slope) : activate(a, t.data()[i], slope);
      },
      nb::arg("name"), nb::arg("t"), nb::arg("out"), nb::arg("alpha").none(), nb::arg("condition"),
      "phi(t) (condition=False) or kappa_phi(t) (condition=True) elementwise.");
}

}  // namespace mpcore::python
