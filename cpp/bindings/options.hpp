// Python values to option fields, each checked once with an error that names the field
// (options_binding.cpp; used by every binding that takes options).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bindings.hpp"

namespace mpcore::python {

namespace nb = nanobind;

bool is_boolean(nb::handle v);
std::optional<long long> integer_value(nb::handle v);  // none: not an integer (bool and float are not)
double real_value(nb::handle v, const char* field);
Format format_value(nb::handle v, const char* field);   // an mpcore.Format or a format's name
NamedFormat named(const Format& f);                     // with its built-in name, or "custom"
std::uint64_t seed_value(nb::handle v, Rounding mode);  // None: fresh for stochastic rounding, else 0
int sr_bits_value(nb::handle v);                        // None: kMaxStochasticBits
int threads_value(nb::handle v);                        // None: 0 (all cores)
MatmulOptions matmul_options(nb::handle acc, nb::handle rounding, nb::handle order, nb::handle block,
                             nb::handle outer, nb::handle seed, nb::handle sr_bits, nb::handle threads);

// An enum field given as its enum or its name.
template <class E, std::size_t N>
E enum_value(nb::handle v, const char* field, const char* what, const char* const (&names)[N],
             const E (&values)[N]) {
  if (nb::isinstance<E>(v)) return nb::cast<E>(v);
  if (nb::isinstance<nb::str>(v)) {
    try {
      return detail::parse_name(what, nb::cast<std::string>(v), names, values);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string(field) + ": " + e.what());
    }
  }
  throw nb::type_error((std::string(field) + " must be a name (str), not " + Py_TYPE(v.ptr())->tp_name).c_str());
}

inline Rounding rounding_value(nb::handle v) {
  return enum_value(v, "rounding", "rounding mode", kRoundingNames, kRoundingValues);
}
inline Estimator estimator_value(nb::handle v) {
  return enum_value(v, "estimator", "estimator", kEstimatorNames, kEstimatorValues);
}
inline Activation activation_value(nb::handle v) {
  return enum_value(v, "activation", "activation", kActivationNames, kActivationValues);
}

}  // namespace mpcore::python
