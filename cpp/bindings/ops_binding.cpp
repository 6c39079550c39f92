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

static NewMatrix<double> matmul(AnyMatrix x, nb::object w, std::optional<AnyVector> b, const MatmulOptions& o,
                                const std::string& path, std::optional<CodeTable> x_table,
                                std::optional<CodeTable> w_table, std::optional<CodeTable> b_table) {
  const cpu::PreparedLinear layer = layer_of(w, b, w_table, b_table);
  bool forced = false;
  const cpu::Path p = parse_path(path, forced);
  const cpu::StoredMatrix xs = stored_operand(x, x_table, "x");
  NewMatrix<double> y = new_matrix<double>(x.shape(0), layer.rows());
  nb::gil_scoped_release release;
  cpu::matmul(xs, layer, y.data(), o, forced ? &p : nullptr);
  return y;
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

void bind_ops(nb::module_& m) {
  m.def(
      "round",
      [](nb::ndarray<const double, nb::ndim<1>, nb::c_contig, nb::device::cpu> x, nb::handle fmt,
         nb::handle rounding, nb::handle seed, nb::handle sr_bits, nb::handle threads) {
        const Format f = format_value(fmt, "fmt");
        const Rounding mode = rounding_value(rounding);
        const std::uint64_t seed_n = seed_value(seed, mode);
        const int bits = sr_bits_value(sr_bits), threads_n = threads_value(threads);
        NewMatrix<double> out = new_matrix<double>(1, x.shape(0));
        nb::gil_scoped_release release;
        cpu::round_array(x.data(), out.data(), x.shape(0), f, mode, seed_n, bits, threads_n);
        return out;
      },
      nb::arg("x"), nb::arg("fmt"), nb::arg("rounding") = "rne", nb::arg("seed").none() = 0,
      nb::arg("sr_bits").none() = nb::none(), nb::arg("threads").none() = nb::none(),
      "Each element of x rounded to fmt (element i uses random stream (seed, i)), as a (1, n) array.");

  const char* doc =
      "x @ w.T (+ b) accumulated as the options say, with one correct rounding per addition (a new array).";
  m.def("matmul", &matmul, nb::arg("x"), nb::arg("w"), nb::arg("b").none(), nb::arg("options"),
        nb::arg("path") = "auto", nb::arg("x_table").none() = nb::none(), nb::arg("w_table").none() = nb::none(),
        nb::arg("b_table").none() = nb::none(), doc);
  m.def(
      "kernel_path",
      [](const std::string& dtype, const MatmulOptions& o) {
        if (dtype == "float32") return path_name(cpu::choose_path<float>(o));
        if (dtype == "float64") return path_name(cpu::choose_path<double>(o));
        throw std::invalid_argument("dtype must be 'float32' or 'float64'");
      },
      nb::arg("dtype"), nb::arg("options"), "Which CPU kernel matmul takes for these options when the data allows it.");
  m.def(
      "kernel_path",
      [](AnyMatrix x, nb::object w, const MatmulOptions& o, std::optional<CodeTable> x_table,
         std::optional<CodeTable> w_table) {
        const cpu::PreparedLinear layer = layer_of(w, std::nullopt, w_table, std::nullopt);
        return path_name(cpu::matmul_path(stored_operand(x, x_table, "x"), layer.w(), o));
      },
      nb::arg("x"), nb::arg("w"), nb::arg("options"), nb::arg("x_table").none() = nb::none(),
      nb::arg("w_table").none() = nb::none(), "Which CPU kernel matmul takes for these options and this data.");
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
      [](const std::string& path, const MatmulOptions& o) {
        if (path != "lanes" && path != "lanes32") throw std::invalid_argument("path must be 'lanes' or 'lanes32'");
        const auto c = path == "lanes32" ? cpu::simd::Container::Binary32 : cpu::simd::Container::Binary64;
        const bool pairwise = o.order == Order::Pairwise;  // blocked runs sequential lanes
        const Rounding mode = o.rounding;
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
      nb::arg("path"), nb::arg("options"),
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
