// Array kernels: rounding and simulated-accumulation matmul.
#include <cstdint>
#include <optional>

#include "arrays.hpp"

namespace mpcore::python {

static cpu::Path parse_path(const std::string& s, bool& forced) {
  forced = s != "auto";
  if (s == "auto") return cpu::Path::Generic;
  if (s == "native32") return cpu::Path::NativeFp32;
  if (s == "native64") return cpu::Path::NativeFp64;
  if (s == "lanes") return cpu::Path::SimulatedLanes;
  if (s == "lanes32") return cpu::Path::Float32Lanes;
  if (s == "generic") return cpu::Path::Generic;
  throw std::invalid_argument("unknown kernel path '" + s +
                              "'; valid: 'auto', 'native32', 'native64', 'lanes', 'lanes32', 'generic'");
}

static void matmul(AnyMatrix x, nb::object w, std::optional<AnyVector> b, OutMatrix y, const NamedFormat& acc,
                   const std::string& rounding, const std::string& order, std::size_t block, const NamedFormat& outer,
                   std::uint64_t seed, int sr_bits, int threads, const std::string& path,
                   std::optional<CodeTable> x_table, std::optional<CodeTable> w_table,
                   std::optional<CodeTable> b_table) {
  const cpu::PreparedLinear layer = layer_of(w, b, w_table, b_table);
  check_shape(y, x.shape(0), layer.rows(), "out");
  const MatmulOptions o = matmul_options(acc, rounding, order, block, outer, seed, sr_bits, threads);
  bool forced = false;
  const cpu::Path p = parse_path(path, forced);
  const cpu::StoredMatrix xs = stored_operand(x, x_table, "x");
  nb::gil_scoped_release release;
  cpu::matmul(xs, layer, y.data(), o, forced ? &p : nullptr);
}

static std::string path_name(cpu::Path p) {
  switch (p) {
    case cpu::Path::NativeFp32: return "native32";
    case cpu::Path::NativeFp64: return "native64";
    case cpu::Path::SimulatedLanes: return "lanes";
    case cpu::Path::Float32Lanes: return "lanes32";
    default: return "generic";
  }
}

static MatmulOptions path_options(const NamedFormat& acc, const std::string& rounding, const std::string& order) {
  MatmulOptions o;
  o.acc = acc.spec;
  o.rounding = parse_rounding(rounding);
  o.order = parse_order(order);
  return o;
}

void bind_ops(nb::module_& m) {
  m.def(
      "round",
      [](nb::ndarray<const double, nb::ndim<1>, nb::c_contig, nb::device::cpu> x, OutVector out,
         const NamedFormat& fmt, const std::string& rounding, std::uint64_t seed, int sr_bits, int threads) {
        if (out.shape(0) != x.shape(0)) throw std::invalid_argument("out has the wrong shape");
        const Rounding mode = parse_rounding(rounding);
        nb::gil_scoped_release release;
        cpu::round_array(x.data(), out.data(), x.shape(0), fmt.spec, mode, seed, sr_bits, threads);
      },
      nb::arg("x"), nb::arg("out"), nb::arg("fmt"), nb::arg("rounding"), nb::arg("seed"), nb::arg("sr_bits"),
      nb::arg("threads"), "Round each element of x to fmt into out (element i uses random stream (seed, i)).");

  const char* doc =
      "out[r, i] = sum_j w[i, j] x[r, j] (+ b[i]) accumulated in `acc` with one correct rounding per addition.";
  m.def("matmul", &matmul, nb::arg("x"), nb::arg("w"), nb::arg("b").none(), nb::arg("out"), nb::arg("acc"),
        nb::arg("rounding"), nb::arg("order"), nb::arg("block"), nb::arg("outer"), nb::arg("seed"),
        nb::arg("sr_bits"), nb::arg("threads"), nb::arg("path") = "auto", nb::arg("x_table").none() = nb::none(),
        nb::arg("w_table").none() = nb::none(), nb::arg("b_table").none() = nb::none(), doc);
  m.def(
      "kernel_path",
      [](const std::string& dtype, const NamedFormat& acc, const std::string& rounding, const std::string& order) {
        const MatmulOptions o = path_options(acc, rounding, order);
        if (dtype == "float32") return path_name(cpu::choose_path<float>(o));
        if (dtype == "float64") return path_name(cpu::choose_path<double>(o));
        throw std::invalid_argument("dtype must be 'float32' or 'float64'");
      },
      nb::arg("dtype"), nb::arg("acc"), nb::arg("rounding"), nb::arg("order"),
      "Which CPU kernel matmul takes for these options when the data allows it.");
  m.def(
      "kernel_path",
      [](AnyMatrix x, nb::object w, const NamedFormat& acc, const std::string& rounding, const std::string& order,
         std::optional<CodeTable> x_table, std::optional<CodeTable> w_table) {
        const MatmulOptions o = path_options(acc, rounding, order);
        const cpu::PreparedLinear layer = layer_of(w, std::nullopt, w_table, std::nullopt);
        return path_name(cpu::matmul_path(stored_operand(x, x_table, "x"), layer.w(), o));
      },
      nb::arg("x"), nb::arg("w"), nb::arg("acc"), nb::arg("rounding"), nb::arg("order"),
      nb::arg("x_table").none() = nb::none(), nb::arg("w_table").none() = nb::none(),
      "Which CPU kernel matmul takes for these options and this data.");
  m.def("default_threads", &cpu::default_threads, "Threads used when threads=0.");
  m.def("simd_isa", []() { return cpu::isa_setting().forced ? std::string(cpu::name_of(cpu::active_isa())) : "auto"; },
        "The kernels' instruction-set setting: 'avx512', 'avx2' or 'portable' when forced, else 'auto'.");
  m.def("detected_simd_isa", []() { return std::string(cpu::name_of(cpu::detected_isa())); },
        "The best instruction set this CPU supports.");
  m.def(
      "set_simd_isa",
      [](const std::string& name) {
        if (name == "avx512") cpu::set_isa(cpu::Isa::Avx512);
        else if (name == "avx2") cpu::set_isa(cpu::Isa::Avx2);
        else if (name == "portable") cpu::set_isa(cpu::Isa::Portable);
        else if (name == "auto") cpu::set_isa_auto();
        else throw std::invalid_argument("unknown instruction set '" + name + "'; valid: 'avx512', 'avx2', 'portable', 'auto'");
      },
      nb::arg("name"),
      "Force the kernels' instruction set (at most the detected one), or 'auto' (the fastest per kernel family).");
  m.def(
      "family_isa",
      [](const std::string& path, const std::string& order, const std::string& rounding) {
        if (path != "lanes" && path != "lanes32") throw std::invalid_argument("path must be 'lanes' or 'lanes32'");
        const auto c = path == "lanes32" ? cpu::simd::Container::Binary32 : cpu::simd::Container::Binary64;
        const bool pairwise = parse_order(order) == Order::Pairwise;  // blocked runs sequential lanes
        const Rounding mode = parse_rounding(rounding);
        const cpu::Isa isa = cpu::simd::family_isa(c, pairwise, mode);
        nb::dict d, rates;
        const int f = cpu::simd::family_index(c, pairwise, mode);
        const auto& t = cpu::simd::family_timing(f);
        if (!cpu::isa_setting().forced && t.timed.load())
          for (int i = 0; i < cpu::simd::kIsas; ++i)
            if (t.rate[i] > 0) rates[cpu::name_of(static_cast<cpu::Isa>(i))] = t.rate[i];
        d["family"] = cpu::simd::family_name(f);
        d["isa"] = cpu::name_of(isa);
        d["rates"] = rates;
        return d;
      },
      nb::arg("path"), nb::arg("order"), nb::arg("rounding"),
      "The instruction set a lane kernel family runs on, with the rates auto measured for it (timed at first use).");
  m.def(
      "dispatch_report",
      []() {
        nb::list out;
        for (const auto& r : cpu::simd::family_reports()) {
          nb::dict d, rates;
          for (int i = 0; i < cpu::simd::kIsas; ++i)
            if (r.rate[i] > 0) rates[cpu::name_of(static_cast<cpu::Isa>(i))] = r.rate[i];
          d["family"] = r.family;
          d["isa"] = cpu::name_of(r.chosen);
          d["rates"] = rates;
          out.append(d);
        }
        return out;
      },
      "The kernel families auto has timed: each with the rates it measured (terms/s) and its choice.");
  m.def("simd_environment_problem", []() { return cpu::isa_from_environment().problem; },
        "What is wrong with $MPCORE_SIMD ('' when it is unset or honoured).");
  m.attr("MAX_SR_BITS") = kMaxStochasticBits;
}

}  // namespace mpcore::python
