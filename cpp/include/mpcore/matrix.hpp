// Non-owning strided views, the shape convention of PyTorch's nn.Linear:
// W is (out_features, in_features), x is (batch, in_features).
#pragma once

#include <cstddef>

#include "config.hpp"

namespace mpcore {

template <class T>
struct MatrixView {
  const T* data = nullptr;
  std::size_t rows = 0, cols = 0;
  std::ptrdiff_t row_stride = 0, col_stride = 1;  // in elements

  MPCORE_HD T operator()(std::size_t i, std::size_t j) const {
    return data[static_cast<std::ptrdiff_t>(i) * row_stride + static_cast<std::ptrdiff_t>(j) * col_stride];
  }
};

template <class T>
MatrixView<T> row_major(const T* data, std::size_t rows, std::size_t cols) {
  return MatrixView<T>{data, rows, cols, static_cast<std::ptrdiff_t>(cols), 1};
}

template <class T>
struct VectorView {
  const T* data = nullptr;
  std::size_t size = 0;
  std::ptrdiff_t stride = 1;

  MPCORE_HD T operator[](std::size_t i) const { return data[static_cast<std::ptrdiff_t>(i) * stride]; }
};

}  // namespace mpcore
