// The CUDA backend for Python (compiled only when MPCORE_CUDA is on): host NumPy arrays in,
// host arrays out; the copies to and from the device happen inside.
#include <cstdint>
#include <optional>
#include <vector>

#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bindings.hpp"
#include "cuda_backend.hpp"

namespace nb = nanobind;

namespace mpcore::python {

template <class T>
using Matrix = nb::ndarray<const T, nb::ndim<2>, nb::device::cpu>;
template <class T>
using Vector = nb::ndarray<const T, nb::ndim<1>, nb::device::cpu>;
using OutMatrix = nb::ndarray<double, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using OutRung = nb::ndarray<std::int32_t, nb::ndim<2>, nb::c_contig, nb::device::cpu>;

template <class T>
static MatrixView<T> view(const Matrix<T>& a) {
  return MatrixView<T>{a.data(), a.shape(0), a.shape(1), a.stride(0), a.stride(1)};
}
template <class T>
static VectorView<T> view(const std::optional<Vector<T>>& b) {
  return b ? VectorView<T>{b->data(), b->shape(0), b->stride(0)} : VectorView<T>{};
}

static void require_device() {
  if (cuda_entry::device_count() == 0) throw std::runtime_error("device='cuda': no CUDA device is available");
}

template <class T>
static void matmul(Matrix<T> x, Matrix<T> w, std::optional<Vector<T>> b, OutMatrix y, const NamedFormat& acc,
                   const std::string& rounding, const std::string& order, std::size_t block, const NamedFormat& outer,
                   std::uint64_t seed, int sr_bits) {
  require_device();
  MatmulOptions o;
  o.acc = acc.spec;
  o.rounding = parse_rounding(rounding);
  o.order = parse_order(order);
  o.block = block;
  o.outer = outer.spec;
  o.seed = seed;
  o.sr_bits = sr_bits;
  nb::gil_scoped_release release;
  cuda_entry::matmul(view(x), view(w), view(b), y.data(), o);
}

template <class T>
static nb::dict ladder(Matrix<T> x, Matrix<T> w, std::optional<Vector<T>> b, OutMatrix z, OutMatrix y,
                       OutMatrix kappa, OutMatrix err_est, OutRung rung, const std::vector<NamedFormat>& fmts,
                       double tau, const std::string& activation, double alpha, const std::string& estimator,
                       const std::string& factor, const std::string& rounding, const std::string& order,
                       std::size_t block, const NamedFormat& outer, std::uint64_t seed, int sr_bits, bool guard_sign) {
  require_device();
  LadderOptions o;
  for (const auto& f : fmts) o.formats.push_back(f.spec);
  o.tau = tau;
  o.activation = parse_activation(activation);
  o.alpha = alpha;
  o.estimator = parse_estimator(estimator);
  o.factor = parse_factor(factor);
  o.rounding = parse_rounding(rounding);
  o.order = parse_order(order);
  o.block = block;
  o.outer = outer.spec;
  o.seed = seed;
  o.sr_bits = sr_bits;
  o.bounds = false;
  o.guard_sign = guard_sign;
  LadderStats stats;
  {
    nb::gil_scoped_release release;
    stats = cuda_entry::ladder_linear(view(x), view(w), view(b), o,
                                      LadderOutputs{z.data(), y.data(), kappa.data(), err_est.data(), rung.data(),
                                                    nullptr, nullptr});
  }
  nb::dict d;
  d["count"] = stats.count;
  d["seconds_low"] = stats.seconds_low;
  d["seconds_estimate"] = stats.seconds_estimate;
  d["seconds_recompute"] = stats.seconds_recompute;
  return d;
}

void bind_cuda(nb::module_& m) {
  m.def("cuda_device_count", &cuda_entry::device_count, "CUDA devices visible to mpcore.");
  m.def("cuda_matmul", &matmul<float>);
  m.def("cuda_matmul", &matmul<double>);
  m.def("cuda_ladder_linear", &ladder<float>);
  m.def("cuda_ladder_linear", &ladder<double>);
}

}  // namespace mpcore::python
