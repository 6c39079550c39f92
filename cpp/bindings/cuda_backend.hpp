// Plain C++ entry points of the CUDA backend (defined in cuda_backend.cu, compiled by
// nvcc), so the nanobind sources never pass through nvcc.
#pragma once

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

}  // namespace mpcore::python::cuda_entry
