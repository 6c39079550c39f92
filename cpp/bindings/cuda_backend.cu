// Instantiates the header-only CUDA backend for the Python module.
#include <mpcore/cuda/backend.cuh>

#include "cuda_backend.hpp"

namespace mpcore::python::cuda_entry {

int device_count() { return cuda::device_count(); }
void matmul(const MatrixView<float>& x, const MatrixView<float>& w, const VectorView<float>& b, double* y,
            const MatmulOptions& o) {
  cuda::matmul(x, w, b, y, o);
}
void matmul(const MatrixView<double>& x, const MatrixView<double>& w, const VectorView<double>& b, double* y,
            const MatmulOptions& o) {
  cuda::matmul(x, w, b, y, o);
}
LadderStats ladder_linear(const MatrixView<float>& x, const MatrixView<float>& w, const VectorView<float>& b,
                          const LadderOptions& o, const LadderOutputs& out) {
  return cuda::ladder_linear(x, w, b, o, out);
}
LadderStats ladder_linear(const MatrixView<double>& x, const MatrixView<double>& w, const VectorView<double>& b,
                          const LadderOptions& o, const LadderOutputs& out) {
  return cuda::ladder_linear(x, w, b, o, out);
}

}  // namespace mpcore::python::cuda_entry
