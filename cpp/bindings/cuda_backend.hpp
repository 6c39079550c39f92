// Plain C++ entry points of the CUDA backend (defined in cuda_backend.cu, compiled by
// nvcc), so the nanobind sources never pass through nvcc.
#pragma once

#include <cstddef>

#include <mpcore/layer/ladder_options.hpp>
#include <mpcore/matrix.hpp>

namespace mpcore::python::cuda_entry {

int device_count();
void matmul(const MatrixView<float>& x, const MatrixView<float>& w, const VectorView<float>& b, double* y,
            const MatmulOptions& o);
void matmul(const MatrixView<double>& x, const MatrixView<double>& w, const VectorView<double>& b, double* y,
            const MatmulOptions& o);
LadderStats ladder_linear(const MatrixView<float>& x, const MatrixView<float>& w, const VectorView<float>& b,
                          const LadderOptions& o, const LadderOutputs& out);
LadderStats ladder_linear(const MatrixView<double>& x, const MatrixView<double>& w, const VectorView<double>& b,
                          const LadderOptions& o, const LadderOutputs& out);

// The same on operands that live on CUDA device `device` (views of device memory, as DLPack
// hands them over); matmul's y is device memory there, the ladder's outputs host arrays.
void resident_matmul(int device, const MatrixView<float>& x, const MatrixView<float>& w, const VectorView<float>& b,
                     double* y, const MatmulOptions& o);
void resident_matmul(int device, const MatrixView<double>& x, const MatrixView<double>& w,
                     const VectorView<double>& b, double* y, const MatmulOptions& o);
LadderStats resident_ladder_linear(int device, const MatrixView<float>& x, const MatrixView<float>& w,
                                   const VectorView<float>& b, const LadderOptions& o, const LadderOutputs& out);
LadderStats resident_ladder_linear(int device, const MatrixView<double>& x, const MatrixView<double>& w,
                                   const VectorView<double>& b, const LadderOptions& o, const LadderOutputs& out);
// count doubles on `device` (std::bad_alloc if it has no room), and their release.
double* device_doubles(int device, std::size_t count);
void free_device(void* p) noexcept;

}  // namespace mpcore::python::cuda_entry
