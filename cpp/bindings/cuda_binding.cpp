// The CUDA backend for Python (compiled only when MPCORE_CUDA is on): host NumPy arrays in,
// host arrays out; the copies to and from the device happen inside.
#include <cstdint>
#include <optional>
#include <vector>

#include "arrays.hpp"
#include "cuda_backend.hpp"

namespace mpcore::python {

static void require_device() {
  if (cuda_entry::device_count() == 0) throw std::runtime_error("device='cuda': no CUDA device is available");
}

template <class T>
static NewMatrix<double> matmul(Matrix<T> x, Matrix<T> w, std::optional<Vector<T>> b, const MatmulOptions& o) {
  require_device();
  NewMatrix<double> y = new_matrix<double>(x.shape(0), w.shape(0));
  nb::gil_scoped_release release;
  cuda_entry::matmul(view(x), view(w), view(b), y.data(), o);
  return y;
}

template <class T>
static nb::dict ladder(Matrix<T> x, Matrix<T> w, std::optional<Vector<T>> b, const LadderOptions& o) {
  require_device();
  if (o.bounds) throw std::invalid_argument("bounds=True is computed on the CPU only: use bounds=False with device='cuda'");
  LadderArrays arrays(x.shape(0), w.shape(0), false);
  LadderStats stats;
  {
    nb::gil_scoped_release release;
    stats = cuda_entry::ladder_linear(view(x), view(w), view(b), o, arrays.outputs());
  }
  return arrays.dict(stats);
}

void bind_cuda(nb::module_& m) {
  m.def("cuda_device_count", &cuda_entry::device_count, "CUDA devices visible to mpcore.");
  m.def("cuda_matmul", &matmul<float>);
  m.def("cuda_matmul", &matmul<double>);
  m.def("cuda_ladder_linear", &ladder<float>);
  m.def("cuda_ladder_linear", &ladder<double>);
}

}  // namespace mpcore::python
