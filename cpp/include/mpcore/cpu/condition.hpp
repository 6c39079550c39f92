// The numerator |W_i||x| + |b_i| of kappa_v on the CPU, by each estimator.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

#include "../condition.hpp"
#include "../format.hpp"
#include "../matrix.hpp"
#include "matmul.hpp"

namespace mpcore::cpu {

// Euclidean norms of W's rows (for Estimator::Norm; a layer can compute them once).
template <class T>
std::vector<double> row_norms(const MatrixView<T>& w) {
  std::vector<double> norms(w.rows);
  for (std::size_t i = 0; i < w.rows; ++i) {
    double s = 0;
    for (std::size_t j = 0; j < w.cols; ++j) {
      const double v = static_cast<double>(w(i, j));
      s += ::mpcore::detail::unfused_mul(v, v);
    }
    norms[i] = std::sqrt(s);
  }
  return norms;
}

// out (batch x out, row-major) = the estimator's numerator for every component.
// Exact and Low accumulate |W||x| + |b| with round-to-nearest-even in fp32 or `low`;
// Norm uses `norms` (row_norms(w)) when given.
template <class T>
void inner_numerator(const MatrixView<T>& x, const MatrixView<T>& w, const VectorView<T>& b, Estimator e,
                     const Format& low, int threads, double* out, const std::vector<double>* norms = nullptr) {
  const std::size_t batch = x.rows, nout = w.rows, n = w.cols;
  if (e == Estimator::Norm) {
    std::vector<double> own;
    if (!norms) {
      own = row_norms(w);
      norms = &own;
    }
    for (std::size_t r = 0; r < batch; ++r) {
      double s = 0;
      for (std::size_t j = 0; j < n; ++j) {
        const double v = static_cast<double>(x(r, j));
        s += ::mpcore::detail::unfused_mul(v, v);
      }
      const double xn = std::sqrt(s);
      for (std::size_t i = 0; i < nout; ++i)
        out[r * nout + i] = ::mpcore::detail::unfused_mul((*norms)[i], xn) + (b.data ? std::fabs(static_cast<double>(b[i])) : 0.0);
    }
    return;
  }
  std::vector<T> ax(batch * n), aw(nout * n), ab(b.data ? nout : 0);
  for (std::size_t r = 0; r < batch; ++r)
    for (std::size_t j = 0; j < n; ++j) ax[r * n + j] = static_cast<T>(std::fabs(x(r, j)));
  for (std::size_t i = 0; i < nout; ++i)
    for (std::size_t j = 0; j < n; ++j) aw[i * n + j] = static_cast<T>(std::fabs(w(i, j)));
  for (std::size_t i = 0; i < ab.size(); ++i) ab[i] = static_cast<T>(std::fabs(b[i]));
  MatmulOptions o;
  o.acc = e == Estimator::Exact ? formats::fp32 : low;
  o.threads = threads;
  matmul(row_major(ax.data(), batch, n), row_major(aw.data(), nout, n),
         VectorView<T>{ab.empty() ? nullptr : ab.data(), ab.size(), 1}, out, o);
}

}  // namespace mpcore::cpu
