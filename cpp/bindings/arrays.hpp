// What the binding files share: NumPy array types, views of them, and option structs
// built from the Python arguments.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bindings.hpp"

namespace mpcore::python {

namespace nb = nanobind;

template <class T>
using Matrix = nb::ndarray<const T, nb::ndim<2>, nb::device::cpu>;  // any strides
template <class T>
using Vector = nb::ndarray<const T, nb::ndim<1>, nb::device::cpu>;
using OutMatrix = nb::ndarray<double, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using OutVector = nb::ndarray<double, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using OutRung = nb::ndarray<std::int32_t, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using Flat = nb::ndarray<const double, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

template <class T>
MatrixView<T> view(const Matrix<T>& a) {
  return MatrixView<T>{a.data(), a.shape(0), a.shape(1), a.stride(0), a.stride(1)};
}
template <class T>
VectorView<T> view(const std::optional<Vector<T>>& b) {
  return b ? VectorView<T>{b->data(), b->shape(0), b->stride(0)} : VectorView<T>{};
}

inline void check_shape(const OutMatrix& a, std::size_t rows, std::size_t cols, const char* name) {
  if (a.shape(0) != rows || a.shape(1) != cols) throw std::invalid_argument(std::string(name) + " has the wrong shape");
}

inline MatmulOptions matmul_options(const NamedFormat& acc, const std::string& rounding, const std::string& order,
                                    std::size_t block, const NamedFormat& outer, std::uint64_t seed, int sr_bits,
                                    int threads) {
  MatmulOptions o;
  o.acc = acc.spec;
  o.rounding = parse_rounding(rounding);
  o.order = parse_order(order);
  o.block = block;
  o.outer = outer.spec;
  o.seed = seed;
  o.sr_bits = sr_bits;
  o.threads = threads;
  return o;
}

inline LadderOptions ladder_options(const std::vector<NamedFormat>& fmts, double tau, const std::string& activation,
                                    double alpha, const std::string& estimator, const std::string& factor,
                                    const std::string& rounding, const std::string& order, std::size_t block,
                                    const NamedFormat& outer, std::uint64_t seed, int sr_bits, int threads,
                                    bool guard_sign) {
  LadderOptions o;
  for (const auto& f : fmts) o.formats.push_back(f.spec);
  o.tau = tau;
  o.activation = parse_activation(activation);
  o.alpha = alpha;
  o.estimator = parse_estimator(estimator);
  o.factor = parse_factor(factor);
  o.accumulation = matmul_options(fmts.empty() ? outer : fmts[0], rounding, order, block, outer, seed, sr_bits, threads);
  o.guard_sign = guard_sign;
  return o;
}

inline nb::dict stats_dict(const LadderStats& stats) {
  nb::dict d;
  d["count"] = stats.count;
  d["seconds_low"] = stats.seconds_low;
  d["seconds_estimate"] = stats.seconds_estimate;
  d["seconds_recompute"] = stats.seconds_recompute;
  return d;
}

}  // namespace mpcore::python
