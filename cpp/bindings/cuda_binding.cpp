// The CUDA backend for Python (compiled only when MPCORE_CUDA is on): host NumPy arrays in,
// host arrays out, the copies to and from the device inside; or arrays that already live on
// a CUDA device (any DLPack producer: torch, CuPy, JAX), read where they are.
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
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

template <class T>
using DeviceMatrix = nb::ndarray<const T, nb::ndim<2>, nb::device::cuda>;  // any strides
template <class T>
using DeviceVector = nb::ndarray<const T, nb::ndim<1>, nb::device::cuda>;
using DeviceResult = nb::ndarray<double, nb::ndim<2>, nb::c_contig, nb::device::cuda>;

// The device all operands live on, or ValueError.
template <class T>
static int common_device(const DeviceMatrix<T>& x, const DeviceMatrix<T>& w, const std::optional<DeviceVector<T>>& b) {
  const int d = x.device_id();
  if (w.device_id() != d || (b && b->device_id() != d))
    throw std::invalid_argument("x, w and b must live on the same CUDA device (x on " + std::to_string(d) + ", w on " +
                                std::to_string(w.device_id()) + (b ? ", b on " + std::to_string(b->device_id()) : "") +
                                ")");
  return d;
}

template <class T>
static DeviceResult resident_matmul(DeviceMatrix<T> x, DeviceMatrix<T> w, std::optional<DeviceVector<T>> b,
                                    const MatmulOptions& o) {
  require_device();
  const int device = common_device(x, w, b);
  const std::size_t rows = x.shape(0), cols = w.shape(0);
  const std::size_t count = checked_product(rows, cols, "the result");
  checked_product(count, sizeof(double), "the result");
  double* y = cuda_entry::device_doubles(device, count);
  nb::capsule owner(y, [](void* p) noexcept { cuda_entry::free_device(p); });
  {
    nb::gil_scoped_release release;
    cuda_entry::resident_matmul(device, view(x), view(w), view(b), y, o);
  }
  return DeviceResult(y, {rows, cols}, owner, {}, nb::dtype<double>(), nb::device::cuda::value, device);
}

template <class T>
static nb::dict resident_ladder(DeviceMatrix<T> x, DeviceMatrix<T> w, std::optional<DeviceVector<T>> b,
                                const LadderOptions& o) {
  require_device();
  if (o.bounds) throw std::invalid_argument("bounds=True is computed on the CPU only: use bounds=False with device='cuda'");
  const int device = common_device(x, w, b);
  LadderArrays arrays(x.shape(0), w.shape(0), false);
  LadderStats stats;
  {
    nb::gil_scoped_release release;
    stats = cuda_entry::resident_ladder_linear(device, view(x), view(w), view(b), o,
                                               arrays.outputs());
  }
  return arrays.dict(stats);
}

void bind_cuda(nb::module_& m) {
  m.def("cuda_device_count", &cuda_entry::device_count, "CUDA devices visible to mpcore.");
  m.def("cuda_matmul", &matmul<float>);
  m.def("cuda_matmul", &matmul<double>);
  m.def("cuda_ladder_linear", &ladder<float>);
  m.def("cuda_ladder_linear", &ladder<double>);
  const char* resident_doc =
      "matmul of operands on a CUDA device (DLPack: torch, CuPy, JAX; float32 or float64, any strides), "
      "the result a float64 array on that device (DLPack): the bits of cuda_matmul.";
  m.def("cuda_resident_matmul", &resident_matmul<float>, nb::arg("x"), nb::arg("w"), nb::arg("b").none(),
        nb::arg("options"), resident_doc);
  m.def("cuda_resident_matmul", &resident_matmul<double>, nb::arg("x"), nb::arg("w"), nb::arg("b").none(),
        nb::arg("options"));
  m.def("cuda_resident_ladder_linear", &resident_ladder<float>, nb::arg("x"), nb::arg("w"), nb::arg("b").none(),
        nb::arg("options"),
        "ladder_linear of operands on a CUDA device (as cuda_resident_matmul); its arrays on the host.");
  m.def("cuda_resident_ladder_linear", &resident_ladder<double>, nb::arg("x"), nb::arg("w"), nb::arg("b").none(),
        nb::arg("options"));
}

}  // namespace mpcore::python
