// The precision ladder (ladder.hpp) on the CPU: x in the type its owner stores it in
// (stored.hpp), the layer's W and b likewise, packed once if it was prepared (every pass
// then reads the packed panels).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "../layer/ladder.hpp"
#include "../matrix.hpp"
#include "numerator.hpp"
#include "matmul.hpp"

namespace mpcore::cpu {

class LadderBackend {
 public:
  LadderBackend(const StoredMatrix& x, const PreparedLinear& layer, int threads)
      : x_(x), layer_(layer), threads_(threads) {
    if (x.cols != layer.cols())
      throw std::invalid_argument("x has " + std::to_string(x.cols) + " features but w has " +
                                  std::to_string(layer.cols()) + " columns");
  }
  std::size_t rows() const { return x_.rows; }
  std::size_t outputs() const { return layer_.rows(); }
  std::size_t terms() const { return layer_.cols(); }
  bool has_bias() const { return layer_.bias().data != nullptr; }
  void all(const MatmulOptions& o, double* z) { matmul(x_, layer_, z, o); }
  void entries(const std::vector<std::size_t>& list, const MatmulOptions& o, double* z) {
    matmul_entries(x_, layer_, list.data(), list.size(), z, o);
  }
  void numerator(Estimator e, const Format& low, double* num) { inner_numerator(x_, layer_, e, low, threads_, num); }

 private:
  const StoredMatrix& x_;
  const PreparedLinear& layer_;
  int threads_;
};

inline LadderStats ladder_linear(const StoredMatrix& x, const PreparedLinear& layer, const LadderOptions& o,
                                 const LadderOutputs& out, const FirstPass* first = nullptr,
                                 const std::int32_t* given_rung = nullptr) {
  LadderBackend be(x, layer, o.accumulation.threads);
  return run_ladder(be, o, out, first, given_rung);
}

inline LadderStats ladder_linear(const StoredMatrix& x, const StoredMatrix& w, const StoredMatrix& b,
                                 const LadderOptions& o, const LadderOutputs& out, const FirstPass* first = nullptr) {
  return ladder_linear(x, PreparedLinear::view(w, b), o, out, first);
}

template <class T>
LadderStats ladder_linear(const MatrixView<T>& x, const MatrixView<T>& w, const VectorView<T>& b,
                          const LadderOptions& o, const LadderOutputs& out, const FirstPass* first = nullptr) {
  return ladder_linear(stored(x), stored(w), stored(b), o, out, first);
}

}  // namespace mpcore::cpu
