// The numerator |W_i||x| + |b_i| of kappa_v on the CPU, by each estimator.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

#include "../analysis/condition.hpp"
#include "../numerics/format.hpp"
#include "../matrix.hpp"
#include "matmul.hpp"

namespace mpcore::cpu {

// out (batch x out, row-major) = the estimator's numerator for every component.
// Exact and Low accumulate |W||x| + |b| with round-to-nearest-even in fp32 or `low`
// (from |W|'s packed panels when the layer is prepared); Norm uses the layer's row norms.
inline void inner_numerator(const StoredMatrix& x, const PreparedLinear& layer, Estimator e, const Format& low,
                            int threads, double* out) {
  const StoredMatrix &w = layer.w(), &b = layer.bias();
  const std::size_t batch = x.rows, nout = w.rows;
  if (e == Estimator::Norm) {
    const std::vector<double>& norms = layer.row_norms(threads);
    const std::vector<double> x_norms = row_norms(x, threads);
    std::vector<double> bias(b.data ? nout : 0);
    if (b.data) magnitudes(b).copy_row(0, 0, nout, bias.data());
    parallel_for(batch, threads, [&](std::size_t begin, std::size_t end) {
      for (std::size_t r = begin; r < end; ++r)
        for (std::size_t i = 0; i < nout; ++i)
          out[r * nout + i] = norm_estimate(norms[i], x_norms[r], b.data ? bias[i] : 0.0);
    });
    return;
  }
  // The operands read as magnitudes while each panel is packed: no copy of |x|, |W| or |b|.
  MatmulOptions o;
  o.acc = e == Estimator::Fp32 ? formats::fp32 : low;
  o.threads = threads;
  matmul_packed(magnitudes(x), magnitudes(w), magnitudes(b), out, o, nullptr, layer.magnitude_panels(threads));
}

inline void inner_numerator(const StoredMatrix& x, const StoredMatrix& w, const StoredMatrix& b, Estimator e,
                            const Format& low, int threads, double* out) {
  inner_numerator(x, PreparedLinear::view(w, b), e, low, threads, out);
}

template <class T>
void inner_numerator(const MatrixView<T>& x, const MatrixView<T>& w, const VectorView<T>& b, Estimator e,
                     const Format& low, int threads, double* out) {
  inner_numerator(stored(x), stored(w), stored(b), e, low, threads, out);
}

}  // namespace mpcore::cpu
