// Shared declarations of the Python extension's parts.
#pragma once

#include <string>

#include <nanobind/nanobind.h>

#include <mpcore/mpcore.hpp>

namespace mpcore::python {

// A Format with the name Python users see.
struct NamedFormat {
  std::string name;
  Format spec;
};

void bind_format(nanobind::module_& m);
void bind_options(nanobind::module_& m);
void bind_ops(nanobind::module_& m);
void bind_isa(nanobind::module_& m);
void bind_selective(nanobind::module_& m);
void bind_layer(nanobind::module_& m);
void bind_cuda(nanobind::module_& m);  // only with MPCORE_HAS_CUDA

}  // namespace mpcore::python
