// W packed once: its kLanes-row panels in the compute type, each panel's binary32
// exactness digest, and (on first use) the panels of |W| and the row norms the condition
// estimators need. A network keeps one per layer, so batches, tau sweeps and the ladder's
// passes read packed panels instead of packing (and digesting) W again on every call.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "../analysis/condition.hpp"
#include "../config.hpp"
#include "parallel.hpp"
#include "stored.hpp"
#if !defined(__CUDACC__)
#include "float32_exact.hpp"
#endif

namespace mpcore::cpu {

inline constexpr std::size_t kPanelRows = 32;  // = detail::kLanes: outputs computed side by side

namespace packing {

// __builtin_shufflevector: Clang, and GCC from 12.
#if !defined(__CUDACC__) && (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12))
// dst[c * kPanelRows + l] = row[l][k + c] for l < 4 and c < 4: one 4 x 4 block transposed
// with eight shuffles (16-byte vectors: SSE on x86-64, NEON on Arm).
inline void transpose_block(const float* const* row, std::size_t k, float* dst) {
  typedef float v4 __attribute__((vector_size(16)));
  v4 a, b, c, d;
  std::memcpy(&a, row[0] + k, sizeof a);
  std::memcpy(&b, row[1] + k, sizeof b);
  std::memcpy(&c, row[2] + k, sizeof c);
  std::memcpy(&d, row[3] + k, sizeof d);
  const v4 ab_lo = __builtin_shufflevector(a, b, 0, 4, 1, 5), ab_hi = __builtin_shufflevector(a, b, 2, 6, 3, 7);
  const v4 cd_lo = __builtin_shufflevector(c, d, 0, 4, 1, 5), cd_hi = __builtin_shufflevector(c, d, 2, 6, 3, 7);
  const v4 col[4] = {__builtin_shufflevector(ab_lo, cd_lo, 0, 1, 4, 5), __builtin_shufflevector(ab_lo, cd_lo, 2, 3, 6, 7),
                     __builtin_shufflevector(ab_hi, cd_hi, 0, 1, 4, 5), __builtin_shufflevector(ab_hi, cd_hi, 2, 3, 6, 7)};
  for (int c4 = 0; c4 < 4; ++c4) std::memcpy(dst + c4 * kPanelRows, &col[c4], sizeof col[c4]);
}

// The same for binary64: four 2 x 2 blocks (rows 0-1 and 2-3, columns k..k+1 and k+2..k+3).
inline void transpose_block(const double* const* row, std::size_t k, double* dst) {
  typedef double v2 __attribute__((vector_size(16)));
  for (std::size_t pair = 0; pair < 4; pair += 2) {
    for (std::size_t c = 0; c < 4; c += 2) {
      v2 a, b;
      std::memcpy(&a, row[pair] + k + c, sizeof a);
      std::memcpy(&b, row[pair + 1] + k + c, sizeof b);
      const v2 lo = __builtin_shufflevector(a, b, 0, 2), hi = __builtin_shufflevector(a, b, 1, 3);
      std::memcpy(dst + c * kPanelRows + pair, &lo, sizeof lo);
      std::memcpy(dst + (c + 1) * kPanelRows + pair, &hi, sizeof hi);
    }
  }
}
#else
template <class T>
void transpose_block(const T* const* row, std::size_t k, T* dst) {
  for (std::size_t l = 0; l < 4; ++l)
    for (std::size_t c = 0; c < 4; ++c) dst[c * kPanelRows + l] = row[l][k + c];
}
#endif

// dst[k * kPanelRows + l] = row[l][k] for l < width (a multiple of 4), k < cols.
template <class T>
void interleave_rows(const T* const* row, std::size_t cols, T* dst, std::size_t width = kPanelRows) {
  const std::size_t whole = cols - cols % 4;
  for (std::size_t l = 0; l < width; l += 4) {
    for (std::size_t k = 0; k < whole; k += 4) transpose_block(row + l, k, dst + k * kPanelRows + l);
    for (std::size_t k = whole; k < cols; ++k)
      for (std::size_t m = l; m < l + 4; ++m) dst[k * kPanelRows + m] = row[m][k];
  }
}

}  // namespace packing

// Panel p of W: rows [p*kPanelRows, p*kPanelRows + kPanelRows) interleaved into dst
// (n * kPanelRows values, converted to T while packing) so that the weights of term j are
// adjacent; missing rows are zero. rows: the W row of each lane (nullptr: all of panel p in
// order). width: the lanes written (a multiple of 4, at least live; the rest of each step's
// kPanelRows are left as they were), for a kernel that reads no more (a tail of outputs runs
// half the vectors). A tile of kTile columns of every row is transposed into dst in 4 x 4
// blocks, read in place where a row is stored as T values, else first copied (and converted)
// into a row-major scratch: writing dst a value at a time, kPanelRows values apart, cost a
// third of a recompute's time (matmul_entries packs a panel per group of outputs), and the
// staging copy of a plain row another tenth.
template <class T>
void pack_panel(const StoredMatrix& w, std::size_t p, T* dst, const std::size_t* rows = nullptr,
                std::size_t live = kPanelRows, std::size_t width = kPanelRows) {
  constexpr std::size_t kTile = 64;
  alignas(64) T scratch[kPanelRows * kTile];
  if (!rows) live = std::min(kPanelRows, w.rows - p * kPanelRows);
  std::fill(scratch + live * kTile, scratch + width * kTile, T(0));
  const T* plain[kPanelRows];  // each live row in place, or nullptr (staged)
  bool staged = false;
  for (std::size_t l = 0; l < live; ++l) {
    plain[l] = w.plain_row<T>(rows ? rows[l] : p * kPanelRows + l);
    staged |= plain[l] == nullptr;
  }
  const T* tile[kPanelRows];
  for (std::size_t l = live; l < width; ++l) tile[l] = scratch + l * kTile;  // zeros
  const std::size_t n = w.cols;
  for (std::size_t j0 = 0; j0 < n; j0 += kTile) {
    const std::size_t j1 = std::min(n, j0 + kTile);
    for (std::size_t l = 0; l < live; ++l) {
      if (!staged) {
        tile[l] = plain[l] + j0;
      } else {
        w.copy_row(rows ? rows[l] : p * kPanelRows + l, j0, j1, scratch + l * kTile);
        tile[l] = scratch + l * kTile;
      }
    }
    packing::interleave_rows(tile, j1 - j0, dst + j0 * kPanelRows, width);
  }
}

// Every panel of a matrix, packed in binary32 (narrow values) or binary64.
struct PackedPanels {
  std::size_t rows = 0, cols = 0, count = 0;
  bool binary32 = false;
  std::vector<float> f32;
  std::vector<double> f64;
#if !defined(__CUDACC__)
  std::vector<Float32Digest> digests;  // binary32 panels: one per panel
  Float32Digest whole;                 // all of W (the panels' digests merged)
#endif

  std::size_t panel_size() const { return cols * kPanelRows; }
  template <class T>
  const T* panel(std::size_t p) const {
    if constexpr (sizeof(T) == sizeof(float)) {
      return f32.data() + p * panel_size();
    } else {
      return f64.data() + p * panel_size();
    }
  }
};

inline PackedPanels pack_all(const StoredMatrix& w, int threads) {
  PackedPanels packed;
  packed.rows = w.rows;
  packed.cols = w.cols;
  packed.count = (w.rows + kPanelRows - 1) / kPanelRows;
  packed.binary32 = w.narrow();
  const std::size_t size = packed.panel_size();
  if (packed.binary32) {
    packed.f32.resize(packed.count * size);
#if !defined(__CUDACC__)
    packed.digests.resize(packed.count);
#endif
  } else {
    packed.f64.resize(packed.count * size);
  }
  parallel_for(packed.count, threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t p = begin; p < end; ++p) {
      if (packed.binary32) {
        float* dst = packed.f32.data() + p * size;
        pack_panel(w, p, dst);
#if !defined(__CUDACC__)
        packed.digests[p] = digest(dst, size);
#endif
      } else {
        pack_panel(w, p, packed.f64.data() + p * size);
      }
    }
  });
#if !defined(__CUDACC__)
  for (const Float32Digest& d : packed.digests) packed.whole = merged(packed.whole, d);
#endif
  return packed;
}

// The Euclidean norm of each row of a (a row at a time, in binary64).
inline std::vector<double> row_norms(const StoredMatrix& a, int threads) {
  std::vector<double> norms(a.rows);
  parallel_for(a.rows, threads, [&](std::size_t begin, std::size_t end) {
    std::vector<double> row(a.cols);
    for (std::size_t i = begin; i < end; ++i) {
      a.copy_row(i, 0, a.cols, row.data());
      norms[i] = euclidean_norm([&](std::size_t j) { return row[j]; }, a.cols);
    }
  });
  return norms;
}

// A layer's W and b. Made by view() (nothing copied: every call packs as it goes) or by
// prepare() (W packed once). W's storage must outlive the object either way (the
// selective recompute reads chosen rows of it).
class PreparedLinear {
 public:
  static PreparedLinear view(const StoredMatrix& w, const StoredMatrix& bias) { return PreparedLinear(w, bias); }
  static PreparedLinear prepare(const StoredMatrix& w, const StoredMatrix& bias, int threads = 0) {
    PreparedLinear layer(w, bias);
    layer.state_->panels = pack_all(w, threads);
    layer.state_->prepared = true;
    return layer;
  }

  const StoredMatrix& w() const { return w_; }
  const StoredMatrix& bias() const { return bias_; }
  std::size_t rows() const { return w_.rows; }
  std::size_t cols() const { return w_.cols; }
  bool prepared() const { return state_->prepared; }

  // W's panels (prepared only; nullptr otherwise).
  const PackedPanels* panels() const { return state_->prepared ? &state_->panels : nullptr; }

  // |W|'s panels, packed at the first call (prepared only; nullptr otherwise).
  const PackedPanels* magnitude_panels(int threads) const {
    if (!state_->prepared) return nullptr;
    std::call_once(state_->magnitude_once, [&] { state_->magnitudes = pack_all(magnitudes(w_), threads); });
    return &state_->magnitudes;
  }

  // The Euclidean norm of each row of W (computed at the first call).
  const std::vector<double>& row_norms(int threads) const {
    std::call_once(state_->norms_once, [&] { state_->norms = cpu::row_norms(w_, threads); });
    return state_->norms;
  }

 private:
  struct State {
    bool prepared = false;
    PackedPanels panels, magnitudes;
    std::once_flag magnitude_once, norms_once;
    std::vector<double> norms;
  };
  PreparedLinear(const StoredMatrix& w, const StoredMatrix& bias) : w_(w), bias_(bias), state_(std::make_shared<State>()) {}
  StoredMatrix w_, bias_;
  std::shared_ptr<State> state_;
};

}  // namespace mpcore::cpu
