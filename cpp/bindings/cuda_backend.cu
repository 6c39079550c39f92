// Instantiates the header-only CUDA backend for the Python module.
#include <mpcore/cuda/backend.cuh>

#include <new>

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

void resident_matmul(int device, const MatrixView<float>& x, const MatrixView<float>& w, const VectorView<float>& b,
                     double* y, const MatmulOptions& o) {
  cuda::matmul(cuda::Resident{}, device, x, w, b, y, o);
}
void resident_matmul(int device, const MatrixView<double>& x, const MatrixView<double>& w,
                     const VectorView<double>& b, double* y, const MatmulOptions& o) {
  cuda::matmul(cuda::Resident{}, device, x, w, b, y, o);
}
LadderStats resident_ladder_linear(int device, const MatrixView<float>& x, const MatrixView<float>& w,
                                   const VectorView<float>& b, const LadderOptions& o, const LadderOutputs& out) {
  return cuda::ladder_linear(cuda::Resident{}, device, x, w, b, o, out);
}
LadderStats resident_ladder_linear(int device, const MatrixView<double>& x, const MatrixView<double>& w,
                                   const VectorView<double>& b, const LadderOptions& o, const LadderOutputs& out) {
  return cuda::ladder_linear(cuda::Resident{}, device, x, w, b, o, out);
}
double* device_doubles(int device, std::size_t count) {
  cuda::DeviceScope scope(device);
  void* p = nullptr;
  if (cudaMalloc(&p, (count ? count : 1) * sizeof(double)) != cudaSuccess) {
    cudaGetLastError();
    throw std::bad_alloc();
  }
  return static_cast<double*>(p);
}
void free_device(void* p) noexcept { cudaFree(p); }

}  // namespace mpcore::python::cuda_entry
