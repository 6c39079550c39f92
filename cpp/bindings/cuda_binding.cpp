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
static void matmul(Matrix<T> x, Matrix<T> w, std::optional<Vector<T>> b, OutMatrix y, const NamedFormat& acc,
                   const std::string& rounding, const std::string& order, std::size_t block, const NamedFormat& outer,
                   std::uint64_t seed, int sr_bits) {
  require_device();
  const MatmulOptions o = matmul_options(acc, rounding, order, block, outer, seed, sr_bits, 0);
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
  check_shape(z, x.shape(0), w.shape(0), "z");
  LadderOptions o = ladder_options(fmts, tau, activation, alpha, estimator, factor, rounding, order, block, outer, seed,
                                   sr_bits, 0, guard_sign);
  o.bounds = false;
  LadderStats stats;
  {
    nb::gil_scoped_release release;
    stats = cuda_entry::ladder_linear(view(x), view(w), view(b), o,
                                      LadderOutputs{z.data(), y.data(), kappa.data(), err_est.data(), rung.data(),
                                                    nullptr, nullptr});
  }
  return stats_dict(stats);
}

void bind_cuda(nb::module_& m) {
  m.def("cuda_device_count", &cuda_entry::device_count, "CUDA devices visible to mpcore.");
  m.def("cuda_matmul", &matmul<float>);
  m.def("cuda_matmul", &matmul<double>);
  m.def("cuda_ladder_linear", &ladder<float>);
  m.def("cuda_ladder_linear", &ladder<double>);
}

}  // namespace mpcore::python
