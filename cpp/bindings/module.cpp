// The extension module mpcore._core.
#include "bindings.hpp"

NB_MODULE(_core, m) {
  m.doc() = "mpcore's C++ core: formats, correctly rounded accumulators, CPU kernels";
  m.attr("__version__") = mpcore::version;
  mpcore::python::bind_format(m);
  mpcore::python::bind_ops(m);
  mpcore::python::bind_selective(m);
}
