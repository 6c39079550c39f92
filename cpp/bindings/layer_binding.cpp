// mpcore._core.PreparedLinear: a layer's W packed once (cpu/prepared.hpp), passed as `w`
// to matmul, ladder_linear and inner_numerator.
#include <optional>

#include "arrays.hpp"

namespace mpcore::python {

static std::optional<CodeTable> table_of(const nb::object& t) {
  return t.is_none() ? std::optional<CodeTable>() : std::optional<CodeTable>(nb::cast<CodeTable>(t));
}

// Packs W (and views b) with the GIL released; the arrays stay alive with the layer.
static void prepare_layer(PreparedLayer* self, nb::object w, nb::object b, nb::object w_table, nb::object b_table,
                          nb::handle threads) {
  const cpu::StoredMatrix ws = stored_operand(nb::cast<AnyMatrix>(w), table_of(w_table), "w");
  const cpu::StoredMatrix bs = stored_operand(
      b.is_none() ? std::optional<AnyVector>() : std::optional<AnyVector>(nb::cast<AnyVector>(b)), table_of(b_table), "b");
  if (bs.data && bs.cols != ws.rows) throw std::invalid_argument("b must have one value per row of w");
  const int threads_n = threads_value(threads);
  std::optional<cpu::PreparedLinear> layer;
  {
    nb::gil_scoped_release release;
    layer = cpu::PreparedLinear::prepare(ws, bs, threads_n);
  }
  new (self) PreparedLayer{w, b, w_table, b_table, *layer};
}

void bind_layer(nb::module_& m) {
  const char* doc =
      "W (and b) packed once into the kernels' panels, with their exactness digests; |W|'s panels and row norms "
      "follow on first use. Pass it as w (with b=None).";
  nb::class_<PreparedLayer> cls(m, "PreparedLinear", doc);
  cls.def("__init__", &prepare_layer, nb::arg("w"), nb::arg("b").none(), nb::arg("w_table").none() = nb::none(),
          nb::arg("b_table").none() = nb::none(), nb::arg("threads").none() = nb::none());
  cls.def_prop_ro("rows", [](const PreparedLayer& p) { return p.layer.rows(); });
  cls.def_prop_ro("cols", [](const PreparedLayer& p) { return p.layer.cols(); });
}

}  // namespace mpcore::python
