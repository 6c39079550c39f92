// What the binding files share: NumPy array types, views of them, and new arrays.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bindings.hpp"
#include "options.hpp"

namespace mpcore::python {

namespace nb = nanobind;

template <class T>
using Matrix = nb::ndarray<const T, nb::ndim<2>, nb::device::cpu>;  // any strides
template <class T>
using Vector = nb::ndarray<const T, nb::ndim<1>, nb::device::cpu>;
using OutMatrix = nb::ndarray<double, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using OutVector = nb::ndarray<double, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using OutRung = nb::ndarray<std::int32_t, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using InRung = nb::ndarray<const std::int32_t, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using Flat = nb::ndarray<const double, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using InMatrix = nb::ndarray<const double, nb::ndim<2>, nb::c_contig, nb::device::cpu>;

// a * b, or std::length_error (ValueError) naming `what`: shapes whose product passes size_t
// (zero-width operands can have any number of rows) must not wrap to a small allocation.
inline std::size_t checked_product(std::size_t a, std::size_t b, const char* what) {
  if (b != 0 && a > static_cast<std::size_t>(-1) / b)
    throw std::length_error(std::string(what) + " would have more elements than memory can address");
  return a * b;
}

// A new C-contiguous NumPy array that Python owns (call with the GIL held).
template <class T>
using NewMatrix = nb::ndarray<nb::numpy, T, nb::ndim<2>, nb::c_contig>;
template <class T>
NewMatrix<T> new_matrix(std::size_t rows, std::size_t cols) {
  const std::size_t count = checked_product(rows, cols, "the result");
  checked_product(count, sizeof(T), "the result");
  T* data = new T[count ? count : 1];
  nb::capsule owner(data, [](void* p) noexcept { delete[] static_cast<T*>(p); });
  return NewMatrix<T>(data, {rows, cols}, owner);
}

// Views of host or device arrays (Device: nb::device::cpu or cuda), strides as given.
template <class T, class Device>
MatrixView<T> view(const nb::ndarray<const T, nb::ndim<2>, Device>& a) {
  return MatrixView<T>{a.data(), a.shape(0), a.shape(1), a.stride(0), a.stride(1)};
}
template <class T, class Device>
VectorView<T> view(const std::optional<nb::ndarray<const T, nb::ndim<1>, Device>>& b) {
  return b ? VectorView<T>{b->data(), b->shape(0), b->stride(0)} : VectorView<T>{};
}

// An operand as its owner stores it: a float32 or float64 array, or the uint8/uint16 codes
// of a narrower format with `table` (float32, 256 / 65536 entries: the value of each code).
using AnyMatrix = nb::ndarray<nb::ndim<2>, nb::device::cpu>;
using AnyVector = nb::ndarray<nb::ndim<1>, nb::device::cpu>;
using CodeTable = nb::ndarray<const float, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

inline cpu::StoredMatrix stored_operand(const void* data, nb::dlpack::dtype dt, const std::optional<CodeTable>& table,
                                        const char* name) {
  cpu::StoredMatrix m;
  m.data = data;
  if (dt == nb::dtype<float>()) {
    m.storage = cpu::Storage::Float32;
  } else if (dt == nb::dtype<double>()) {
    m.storage = cpu::Storage::Float64;
  } else if (dt == nb::dtype<std::uint8_t>() || dt == nb::dtype<std::uint16_t>()) {
    const std::size_t codes = dt.bits == 8 ? 256 : 65536;
    if (!table || table->shape(0) != codes)
      throw std::invalid_argument(std::string(name) + ": codes need a table of " + std::to_string(codes) + " values");
    m.storage = dt.bits == 8 ? cpu::Storage::Code8 : cpu::Storage::Code16;
    m.table = table->data();
  } else {
    throw nb::type_error((std::string(name) + " must be float32, float64, or uint8/uint16 codes with a table").c_str());
  }
  if (table && m.table == nullptr) throw std::invalid_argument(std::string(name) + ": a table goes with codes only");
  return m;
}

inline cpu::StoredMatrix stored_operand(const AnyMatrix& a, const std::optional<CodeTable>& table, const char* name) {
  cpu::StoredMatrix m = stored_operand(a.data(), a.dtype(), table, name);
  m.rows = a.shape(0);
  m.cols = a.shape(1);
  m.row_stride = a.stride(0);
  m.col_stride = a.stride(1);
  return m;
}

inline cpu::StoredMatrix stored_operand(const std::optional<AnyVector>& a, const std::optional<CodeTable>& table,
                                        const char* name) {
  if (!a) return cpu::StoredMatrix{};
  cpu::StoredMatrix m = stored_operand(a->data(), a->dtype(), table, name);
  m.rows = 1;
  m.cols = a->shape(0);
  m.col_stride = a->stride(0);
  return m;
}

// A layer prepared once (mpcore.PreparedLinear): W packed, its arrays kept alive.
struct PreparedLayer {
  nb::object w_owner, b_owner, w_table_owner, b_table_owner;
  cpu::PreparedLinear layer;
};

// w as a layer: a PreparedLayer (which holds its own b), or an array (viewed, not packed).
inline cpu::PreparedLinear layer_of(const nb::object& w, const std::optional<AnyVector>& b,
                                    const std::optional<CodeTable>& w_table, const std::optional<CodeTable>& b_table) {
  if (nb::isinstance<PreparedLayer>(w)) {
    if (b || w_table || b_table) throw std::invalid_argument("a prepared layer holds its own b: pass b=None");
    return nb::cast<const PreparedLayer&>(w).layer;
  }
  return cpu::PreparedLinear::view(stored_operand(nb::cast<AnyMatrix>(w), w_table, "w"), stored_operand(b, b_table, "b"));
}

inline void check_shape(const OutMatrix& a, std::size_t rows, std::size_t cols, const char* name) {
  if (a.shape(0) != rows || a.shape(1) != cols) throw std::invalid_argument(std::string(name) + " has the wrong shape");
}

inline nb::dict stats_dict(const LadderStats& stats) {
  nb::dict d;
  d["count"] = stats.count;
  d["seconds_low"] = stats.seconds_low;
  d["seconds_estimate"] = stats.seconds_estimate;
  d["seconds_recompute"] = stats.seconds_recompute;
  return d;
}

using AnyArray3 = nb::ndarray<nb::ndim<3>, nb::device::cpu>;

// Slice b of a 3-D float32/float64 array as a matrix (strides in elements).
inline cpu::StoredMatrix slice(const AnyArray3& a, std::size_t b, const char* name) {
  const std::size_t item = a.dtype().bits / 8;
  cpu::StoredMatrix m = stored_operand(static_cast<const char*>(a.data()) + b * a.stride(0) * item, a.dtype(),
                                       std::nullopt, name);
  m.rows = a.shape(1);
  m.cols = a.shape(2);
  m.row_stride = a.stride(1);
  m.col_stride = a.stride(2);
  return m;
}

// The slices of batched x (batch, L, n) and w (batch, out, n) as matrices, checked: the
// same batch size and the same number of features.
struct BatchedOperands {
  std::vector<cpu::StoredMatrix> x, w;
};
inline BatchedOperands batched_operands(const AnyArray3& x, const AnyArray3& w) {
  if (x.shape(0) != w.shape(0)) throw std::invalid_argument("x and w must have the same batch size");
  if (x.shape(2) != w.shape(2))
    throw std::invalid_argument("x has " + std::to_string(x.shape(2)) + " features but w has " +
                                std::to_string(w.shape(2)));
  BatchedOperands ops;
  for (std::size_t b = 0; b < x.shape(0); ++b) {
    ops.x.push_back(slice(x, b, "x"));
    ops.w.push_back(slice(w, b, "w"));
  }
  return ops;
}

// Outputs of the ladder as new NumPy arrays, batch x out each.
struct LadderArrays {
  NewMatrix<double> z, y, kappa, err_est;
  NewMatrix<std::int32_t> rung;
  std::optional<NewMatrix<double>> bound, bound_prob;

  LadderArrays(std::size_t batch, std::size_t nout, bool bounds)
      : z(new_matrix<double>(batch, nout)), y(new_matrix<double>(batch, nout)),
        kappa(new_matrix<double>(batch, nout)), err_est(new_matrix<double>(batch, nout)),
        rung(new_matrix<std::int32_t>(batch, nout)) {
    if (bounds) {
      bound = new_matrix<double>(batch, nout);
      bound_prob = new_matrix<double>(batch, nout);
    }
  }
  // The outputs from component `offset` on (row-major): a slice's share of a batch.
  LadderOutputs outputs(std::size_t offset = 0) {
    return LadderOutputs{z.data() + offset, y.data() + offset, kappa.data() + offset, err_est.data() + offset,
                         rung.data() + offset, bound ? bound->data() + offset : nullptr,
                         bound_prob ? bound_prob->data() + offset : nullptr};
  }
  nb::dict dict(const LadderStats& stats) const {
    nb::dict d = stats_dict(stats);
    d["z"] = z;
    d["y"] = y;
    d["kappa"] = kappa;
    d["err_est"] = err_est;
    d["rung"] = rung;
    d["bound"] = bound ? nb::cast(*bound) : nb::none();
    d["bound_prob"] = bound_prob ? nb::cast(*bound_prob) : nb::none();
    return d;
  }
};

}  // namespace mpcore::python
