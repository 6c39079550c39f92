// Operands in the type their owner stores them in, read a row (or a panel) at a time.
//
// binary32 and binary64 arrays are read as they are; a format narrower than binary32
// (float16, bfloat16, the fp8/fp6/fp4 formats of ml_dtypes) arrives as its 1- or 2-byte
// codes with a table of the binary32 value of every code, which is exact for every such
// format. The kernels convert while they pack a panel, so no whole copy of W, and no
// whole conversion of it to a wider type, is ever made.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "../matrix.hpp"

namespace mpcore::cpu {

enum class Storage { Float32, Float64, Code8, Code16 };

struct StoredMatrix {
  const void* data = nullptr;  // nullptr: no operand (an absent bias)
  Storage storage = Storage::Float64;
  const float* table = nullptr;  // Code8 / Code16: the value of each code (256 / 65536 entries)
  std::size_t rows = 0, cols = 0;
  std::ptrdiff_t row_stride = 0, col_stride = 1;  // in elements
  bool magnitude = false;                          // read |value| (condition numerators)

  // Every value is a binary32 number (so binary32 kernels may take it).
  bool narrow() const { return storage != Storage::Float64; }

  // f(base, decode): base points at element (0, 0) in the stored type, decode(code) is
  // the value; one switch per call, none per element.
  template <class F>
  decltype(auto) visit(F&& f) const {
    switch (storage) {
      case Storage::Float32: return f(static_cast<const float*>(data), [](float v) { return v; });
      case Storage::Code8: {
        const float* t = table;
        return f(static_cast<const std::uint8_t*>(data), [t](std::uint8_t c) { return t[c]; });
      }
      case Storage::Code16: {
        const float* t = table;
        return f(static_cast<const std::uint16_t*>(data), [t](std::uint16_t c) { return t[c]; });
      }
      default: return f(static_cast<const double*>(data), [](double v) { return v; });
    }
  }

  // Row i as T values in place (contiguous, no conversion), or nullptr where reading it
  // needs a conversion, a magnitude or a column stride (copy_row then).
  template <class T>
  const T* plain_row(std::size_t i) const {
    const bool same = std::is_same_v<T, float> ? storage == Storage::Float32
                                               : std::is_same_v<T, double> && storage == Storage::Float64;
    if (!same || magnitude || col_stride != 1) return nullptr;
    return static_cast<const T*>(data) + static_cast<std::ptrdiff_t>(i) * row_stride;
  }

  // dst[k * dst_stride] = value(i, j0 + k) for j0 <= j0 + k < j1, converted to T.
  template <class T>
  void copy_row(std::size_t i, std::size_t j0, std::size_t j1, T* dst, std::ptrdiff_t dst_stride = 1) const {
    visit([&](auto base, auto decode) {
      const auto* p = base + static_cast<std::ptrdiff_t>(i) * row_stride;
      if (col_stride == 1 && dst_stride == 1) {  // the common case, without a multiply per value
        const auto* q = p + j0;
        const std::size_t count = j1 - j0;
        if constexpr (std::is_same_v<std::remove_cv_t<std::remove_pointer_t<decltype(q)>>, T>) {
          if (!magnitude) {  // binary32 to binary32, binary64 to binary64: a plain copy
            std::memcpy(dst, q, count * sizeof(T));
            return;
          }
        }
        if (magnitude) {
          for (std::size_t k = 0; k < count; ++k) dst[k] = static_cast<T>(std::fabs(decode(q[k])));
        } else {
          for (std::size_t k = 0; k < count; ++k) dst[k] = static_cast<T>(decode(q[k]));
        }
        return;
      }
      auto at = [&](std::size_t j) { return decode(p[static_cast<std::ptrdiff_t>(j) * col_stride]); };
      T* d = dst - static_cast<std::ptrdiff_t>(j0) * dst_stride;
      if (magnitude) {
        for (std::size_t j = j0; j < j1; ++j) d[static_cast<std::ptrdiff_t>(j) * dst_stride] = static_cast<T>(std::fabs(at(j)));
      } else {
        for (std::size_t j = j0; j < j1; ++j) d[static_cast<std::ptrdiff_t>(j) * dst_stride] = static_cast<T>(at(j));
      }
    });
  }
};

template <class T>
Storage storage_of() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "views of float or double");
  return std::is_same_v<T, float> ? Storage::Float32 : Storage::Float64;
}

template <class T>
StoredMatrix stored(const MatrixView<T>& v) {
  return StoredMatrix{v.data, storage_of<T>(), nullptr, v.rows, v.cols, v.row_stride, v.col_stride};
}

// A vector as a matrix of one row (an empty view stays "no operand").
template <class T>
StoredMatrix stored(const VectorView<T>& v) {
  return StoredMatrix{v.data, storage_of<T>(), nullptr, v.data ? std::size_t{1} : 0, v.size, 0, v.stride};
}

// The same operand read as magnitudes |value| (no copy).
inline StoredMatrix magnitudes(StoredMatrix a) {
  a.magnitude = true;
  return a;
}

// All rows of a, contiguous, as T: a's own memory where a holds them so (row-major T
// values), else one copy. (Copying every call cost a matmul of 16384 x 200 float32 inputs
// about a fifth of its time: a fresh 13 MB buffer is written page by page.)
template <class T>
class RowMajor {
 public:
  explicit RowMajor(const StoredMatrix& a) : size_(a.rows * a.cols) {
    const T* own = a.rows ? a.plain_row<T>(0) : nullptr;
    if (own && (a.rows == 1 || a.row_stride == static_cast<std::ptrdiff_t>(a.cols))) {
      data_ = own;
    } else {
      copy_.resize(size_);
      for (std::size_t i = 0; i < a.rows; ++i) a.copy_row(i, 0, a.cols, copy_.data() + i * a.cols);
      data_ = copy_.data();
    }
  }
  RowMajor(const RowMajor&) = delete;
  RowMajor& operator=(const RowMajor&) = delete;
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  std::size_t size_;
  std::vector<T> copy_;
  const T* data_ = nullptr;
};

}  // namespace mpcore::cpu
