// mpcore.Format: a number format, named or custom.
#include <cmath>
#include <functional>

#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bindings.hpp"

namespace nb = nanobind;

namespace mpcore::python {

static NamedFormat make_format(int precision, int emin, int emax, bool subnormals, std::optional<double> max_finite,
                               const std::string& overflow, std::optional<int> bits, const std::string& name) {
  Format f{precision, emin, emax, subnormals, 0.0, parse_overflow(overflow), 0};
  std::string bad = validate(Format{precision, emin, emax, subnormals, std::ldexp(1.0, emin), f.overflow, 8});
  if (!bad.empty()) throw std::invalid_argument("Format: " + bad);
  f.max_finite = max_finite ? *max_finite : f.binade_max();
  f.bits = bits ? *bits : storage_bits(precision, emin, emax);
  bad = validate(f);
  if (!bad.empty()) throw std::invalid_argument("Format: " + bad);
  return NamedFormat{name, f};
}

void bind_format(nb::module_& m) {
  nb::class_<NamedFormat>(m, "Format",
                          "A binary floating-point format: precision p (hidden bit included), normal exponent "
                          "range [emin, emax], subnormals, largest finite value and overflow policy.")
      .def(
          "__init__",
          [](NamedFormat* self, int precision, int emin, int emax, bool subnormals, std::optional<double> max_finite,
             const std::string& overflow, std::optional<int> bits, const std::string& name) {
            new (self) NamedFormat(make_format(precision, emin, emax, subnormals, max_finite, overflow, bits, name));
          },
          nb::arg("precision"), nb::arg("emin"), nb::arg("emax"), nb::arg("subnormals") = true,
          nb::arg("max_finite") = nb::none(), nb::arg("overflow") = "inf", nb::arg("bits") = nb::none(),
          nb::arg("name") = "custom",
          "Build a custom format. max_finite defaults to (2 - 2^(1-p)) 2^emax; bits to the width of a "
          "sign-exponent-significand encoding of that range.")
      .def_prop_ro("name", [](const NamedFormat& f) { return f.name; })
      .def_prop_ro("precision", [](const NamedFormat& f) { return f.spec.precision; },
                   "Significand bits p, hidden bit included.")
      .def_prop_ro("emin", [](const NamedFormat& f) { return f.spec.emin; }, "Exponent of the smallest normal.")
      .def_prop_ro("emax", [](const NamedFormat& f) { return f.spec.emax; }, "Exponent of the largest binade.")
      .def_prop_ro("subnormals", [](const NamedFormat& f) { return f.spec.subnormals; })
      .def_prop_ro("max_finite", [](const NamedFormat& f) { return f.spec.max_finite; })
      .def_prop_ro("xmax", [](const NamedFormat& f) { return f.spec.max_finite; }, "Largest finite value.")
      .def_prop_ro("overflow", [](const NamedFormat& f) { return std::string(name_of(f.spec.overflow)); },
                   "'inf', 'saturate' or 'nan': what overflow produces.")
      .def_prop_ro("bits", [](const NamedFormat& f) { return f.spec.bits; }, "Storage width in bits.")
      .def_prop_ro("u", [](const NamedFormat& f) { return f.spec.unit_roundoff(); }, "Unit roundoff 2^-p.")
      .def_prop_ro("smallest_normal", [](const NamedFormat& f) { return f.spec.smallest_normal(); })
      .def_prop_ro("smallest_subnormal", [](const NamedFormat& f) { return f.spec.smallest_subnormal(); })
      .def("__repr__",
           [](const NamedFormat& f) {
             const Format& s = f.spec;
             char buf[256];
             std::snprintf(buf, sizeof buf,
                           "Format('%s', precision=%d, emin=%d, emax=%d, subnormals=%s, max_finite=%.17g, "
                           "overflow='%s', bits=%d)",
                           f.name.c_str(), s.precision, s.emin, s.emax, s.subnormals ? "True" : "False",
                           s.max_finite, name_of(s.overflow), s.bits);
             return std::string(buf);
           })
      .def("__eq__", [](const NamedFormat& a, const NamedFormat& b) { return a.spec == b.spec; })
      .def("__hash__",
           [](const NamedFormat& f) {
             const Format& s = f.spec;
             return std::hash<double>()(s.max_finite) ^ (std::size_t(s.precision) << 1) ^
                    (std::size_t(s.emin + 2000) << 8) ^ (std::size_t(s.emax + 2000) << 20) ^
                    (std::size_t(s.subnormals) << 40) ^ (std::size_t(s.overflow) << 42) ^ (std::size_t(s.bits) << 44);
           })
      .def("__getstate__",
           [](const NamedFormat& f) {
             const Format& s = f.spec;
             return nb::make_tuple(s.precision, s.emin, s.emax, s.subnormals, s.max_finite,
                                   std::string(name_of(s.overflow)), s.bits, f.name);
           })
      .def("__setstate__", [](NamedFormat& self, const nb::tuple& t) {
        new (&self) NamedFormat(make_format(nb::cast<int>(t[0]), nb::cast<int>(t[1]), nb::cast<int>(t[2]),
                                            nb::cast<bool>(t[3]), nb::cast<double>(t[4]),
                                            nb::cast<std::string>(t[5]), nb::cast<int>(t[6]),
                                            nb::cast<std::string>(t[7])));
      });

  m.def(
      "named_formats",
      []() {
        std::vector<NamedFormat> out;
        for (const auto& nf : formats::all) out.push_back(NamedFormat{nf.name, nf.format});
        return out;
      },
      "The built-in formats, widest first.");
}

}  // namespace mpcore::python
