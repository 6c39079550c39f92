// The kernels' instruction sets: the setting, what the CPU has, and what the timed
// dispatch chose per kernel family (cpu/lanes/fastest.hpp).
#include <string>

#include "arrays.hpp"

namespace mpcore::python {

static nb::dict rates_of(const double* rate) {
  nb::dict rates;
  for (int i = 0; i < cpu::simd::kIsas; ++i)
    if (rate[i] > 0) rates[cpu::name_of(static_cast<cpu::Isa>(i))] = rate[i];
  return rates;
}

void bind_isa(nb::module_& m) {
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
        const int f = cpu::simd::family_index(c, pairwise, mode);
        const auto& t = cpu::simd::family_timing(f);
        nb::dict d;
        d["family"] = cpu::simd::family_name(f);
        d["isa"] = cpu::name_of(isa);
        d["rates"] = !cpu::isa_setting().forced && t.timed.load() ? rates_of(t.rate) : nb::dict();
        return d;
      },
      nb::arg("path"), nb::arg("options"),
      "The instruction set a lane kernel family runs on, with the rates auto measured for it (timed at first use).");
  m.def(
      "dispatch_report",
      []() {
        nb::list out;
        for (const auto& r : cpu::simd::family_reports()) {
          nb::dict d;
          d["family"] = r.family;
          d["isa"] = cpu::name_of(r.chosen);
          d["rates"] = rates_of(r.rate);
          out.append(d);
        }
        return out;
      },
      "The kernel families auto has timed: each with the rates it measured (terms/s) and its choice.");
  m.def("simd_environment_problem", []() { return cpu::isa_from_environment().problem; },
        "What is wrong with $MPCORE_SIMD ('' when it is unset or honoured).");
}

}  // namespace mpcore::python
