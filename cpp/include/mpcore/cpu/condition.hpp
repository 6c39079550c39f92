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
// The Euclidean norm of each row of a (a row at a time, in binary64).
inline std::vector<double> row_norms(const StoredMatrix& a) {
  std::vector<double> norms(a.rows), row(a.cols);
  for (std::size_t i = 0; i < a.rows; ++i) {
    a.copy_row(i, 0, a.cols, row.data());
    double s = 0;
    for (double v : row) s += ::mpcore::detail::unfused_mul(v, v);
    norms[i] = std::sqrt(s);
  }
  return norms;
}
template <class T>
std::vector<double> row_norms(const MatrixView<T>& w) {
  return row_norms(stored(w));
}

// out (batch x out, row-major) = the estimator's numerator for every component.
// Exact and Low accumulate |W||x| + |b| with round-to-nearest-even in fp32 or `low`;
// Norm uses `norms` (row_norms(w)) when given.
inline void inner_numerator(const StoredMatrix& x, const StoredMatrix& w, const StoredMatrix& b, Estimator e,
                     const Format& low, int threads, double* out, const std::vector<double>* norms = nullptr) {
  const std::size_t batch = x.rows, nout = w.rows, n = w.cols;
  if (e == Estimator::Norm) {
    std::vector<double> own;
    if (!norms) {
      own = row_norms(w);
      norms = &own;
    }
    const std::vector<double> x_norms = row_norms(x);
    std::vector<double> bias(b.data ? nout : 0);
    if (b.data) magnitudes(b).copy_row(0, 0, nout, bias.data());
    for (std::size_t r = 0; r < batch; ++r)
      for (std::size_t i = 0; i < nout; ++i)
        out[r * nout + i] = ::mpcore::detail::unfused_mul((*norms)[i], x_norms[r]) + (b.data ? bias[i] : 0.0);
    return;
  }
  // The operands read as magnitudes while each panel is packed: no copy of |x|, |W| or |b|.
  MatmulOptions o;
  o.acc = e == Estimator::Exact ? formats::fp32 : low;
  o.threads = threads;
  matmul(magnitudes(x), magnitudes(w), magnitudes(b), out, o);
}

template <class T>
void inner_numerator(const MatrixView<T>& x, const MatrixView<T>& w, const VectorView<T>& b, Estimator e,
                     const Format& low, int threads, double* out, const std::vector<double>* norms = nullptr) {
  inner_numerator(stored(x), stored(w), stored(b), e, low, threads, out, norms);
}

}  // namespace mpcore::cpu
