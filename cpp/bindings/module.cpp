// The extension module mpcore._core.
#include "bindings.hpp"

namespace {

// Thrown by the interrupt check; the Python error (KeyboardInterrupt, or whatever a custom
// SIGINT handler raised) is already set in this thread's state.
struct Interrupted {};

// Runs on the thread that called into mpcore, between tasks, with the GIL released: Ctrl-C
// stops a long matmul within a task or two instead of when it ends.
void check_python_signals() {
  nanobind::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) throw Interrupted{};
}

}  // namespace

NB_MODULE(_core, m) {
  mpcore::cpu::interrupt_check() = &check_python_signals;
  nanobind::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const Interrupted&) {
      if (!PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
    }
  });
  m.doc() = "mpcore's C++ core: formats, correctly rounded accumulators, CPU kernels";
  m.attr("__version__") = mpcore::version;
  mpcore::python::bind_format(m);
  mpcore::python::bind_options(m);
  mpcore::python::bind_layer(m);
  mpcore::python::bind_ops(m);
  mpcore::python::bind_isa(m);
  mpcore::python::bind_selective(m);
#if defined(MPCORE_HAS_CUDA)
  mpcore::python::bind_cuda(m);
  m.attr("has_cuda") = true;
#else
  m.attr("has_cuda") = false;
#endif
}
