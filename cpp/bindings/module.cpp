// The extension module mpcore._core.
#include "bindings.hpp"

NB_MODULE(_core, m) {
  m.doc() = "mpcore's C++ core: formats, correctly rounded accumulators, CPU kernels";
  m.attr("__version__") = mpcore::version;
  mpcore::python::bind_format(m);
  mpcore::python::bind_ops(m);
  mpcore::python::bind_selective(m);
#if defined(MPCORE_HAS_CUDA)
  mpcore::python::bind_cuda(m);
  m.attr("has_cuda") = true;
#else
  m.attr("has_cuda") = false;
#endif
}
