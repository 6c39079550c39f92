// Simulated-accumulation matmul on the CPU: y[r, i] = sum_j W[i, j] x[r, j] (+ b[i])
// accumulated exactly as accumulator.hpp defines, for every output.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "../numerics/accumulator.hpp"
#include "../layer/matmul_options.hpp"
#include "../matrix.hpp"
#include "parallel.hpp"
#include "paths.hpp"
#include "prepared.hpp"
#include "run_lanes.hpp"
#include "stored.hpp"
#if !defined(__CUDACC__)
#include "float32_exact.hpp"
#endif

namespace mpcore {
namespace cpu {

// Binary32 kernels for operands that are all binary32 values, binary64 otherwise (the
// bits are the same; binary32 is faster).
template <class F>
decltype(auto) with_compute_type(const StoredMatrix& x, const StoredMatrix& w, F&& f) {
  if (x.narrow() && w.narrow()) return f(float{});
  return f(double{});
}

namespace detail {

// The bias as binary64 values (exact), empty without one.
inline std::vector<double> bias_values(const StoredMatrix& bias) {
  std::vector<double> b(bias.data ? bias.cols : 0);
  if (!b.empty()) bias.copy_row(0, 0, b.size(), b.data());
  return b;
}

// What the binary32 lanes need to know of x: its digest (binary32 lanes chosen), or nothing.
struct XDigest {
  bool binary32 = false;
#if !defined(__CUDACC__)
  Float32Digest digest;
#endif
};

// slabs(add): calls add(values, count) for each stretch of x's values (a matmul's x, or a
// convolution image's channels of each sample), binary32 values only.
template <class T, class Slabs>
XDigest x_digest(Path chosen, Slabs&& slabs) {
  XDigest d;
#if !defined(__CUDACC__)
  if constexpr (std::is_same_v<T, float>) {
    d.binary32 = chosen == Path::Lanes32;
    if (d.binary32)
      slabs([&](const float* values, std::size_t count) { d.digest = merged(d.digest, digest(values, count)); });
  }
#endif
  (void)chosen, (void)slabs;
  return d;
}

// A task's view of W's panels: the packed ones (a PreparedLinear's), or its own packing;
// and the path of each panel (binary32 lanes where every product of x and the panel is
// exact in binary32, whichever container the bits come from).
template <class T>
class PanelCursor {
 public:
  PanelCursor(const StoredMatrix& w, const PackedPanels* packed, Path chosen, const XDigest& x)
      : w_(w), packed_(packed && packed->binary32 == std::is_same_v<T, float> ? packed : nullptr),
        converted_(packed && !packed_ ? packed : nullptr), chosen_(chosen), x_(x),
        buffer_(packed_ ? 0 : w.cols * kLanes) {}
  // Panel p (kLanes rows of W, interleaved), and the path it runs on.
  const T* move_to(std::size_t p) {
    if (current_ == p) return panel_;
    current_ = p;
    const std::size_t size = w_.cols * kLanes;
    if (packed_) {
      panel_ = packed_->panel<T>(p);
    } else {
      if (converted_) {  // binary32 panels, binary64 compute (a float64 x): convert, in order
        const float* src = converted_->panel<float>(p);
        for (std::size_t k = 0; k < size; ++k) buffer_[k] = static_cast<T>(src[k]);
      } else {
        pack_panel(w_, p, buffer_.data());
      }
      panel_ = buffer_.data();
    }
    path_ = chosen_ == Path::Lanes32 ? Path::Lanes : chosen_;
#if !defined(__CUDACC__)
    if constexpr (std::is_same_v<T, float>) {
      if (x_.binary32 && products_exact_in_float32(x_.digest, packed_ ? packed_->digests[p] : digest(panel_, size)))
        path_ = Path::Lanes32;
    }
#endif
    return panel_;
  }
  Path path() const { return path_; }

 private:
  const StoredMatrix& w_;
  const PackedPanels *packed_, *converted_;
  Path chosen_, path_ = Path::Generic;
  const XDigest& x_;
  std::vector<T> buffer_;
  std::size_t current_ = static_cast<std::size_t>(-1);
  const T* panel_ = nullptr;
};

// Rows [r0, r1) of x against the panel of outputs i0 .. i0 + lanes on `path`: x0 holds the
// rows one after another (n values each, row r0 first); output (r, i0 + l) goes to
// y0[(r - r0) * ldy + l]. The outputs' stream indices are r * out + i0 + l.
template <class T>
void panel_rows(Path path, const T* panel, const T* x0, std::size_t r0, std::size_t r1, std::size_t n,
                std::size_t out, std::size_t i0, std::size_t lanes, const Accumulation& acc,
                const std::vector<double>& b, double* y0, std::size_t ldy) {
  constexpr std::size_t L = kLanes;
  std::uint64_t index[kLanes];
  const double* bias = b.empty() ? nullptr : &b[i0];
  for (std::size_t r = r0; r < r1; ++r) {
    const T* xr = x0 + (r - r0) * n;
    double* yr = y0 + (r - r0) * ldy;
    for (std::size_t l = 0; l < L; ++l) index[l] = r * out + i0 + l;
#if !defined(__CUDACC__)
    if constexpr (std::is_same_v<T, float>) {
      // Several rows against the panel at once: shared loads and independent chains. Four
      // rows help the deterministic modes' short steps (sequential order); stochastic
      // rounding's longer step has enough independent work at two.
      auto rows_at_once = [&](auto rows_c) {
        constexpr int Rows = decltype(rows_c)::value;
        std::uint64_t index_r[Rows * kLanes];
        const float* rows[Rows];
        double* outs[Rows];
        for (std::size_t l = 0; l < Rows * L; ++l) index_r[l] = (r + l / L) * out + i0 + l % L;
        for (int k = 0; k < Rows; ++k) rows[k] = xr + k * n, outs[k] = yr + k * ldy;
        run_rows32<Rows>(rows, panel, n, acc, index_r, bias, lanes, outs);
        r += Rows - 1;
      };
      if (path == Path::Lanes32 && acc.order == Order::Sequential && acc.acc.mode != Rounding::Stochastic &&
          r + 3 < r1) {
        rows_at_once(std::integral_constant<int, 4>{});
        continue;
      }
      if (path == Path::Lanes32 && acc.order != Order::Blocked && r + 1 < r1) {
        rows_at_once(std::integral_constant<int, 2>{});
        continue;
      }
    }
#endif
    if (path == Path::Generic) {
      for (std::size_t l = 0; l < lanes; ++l) {
        auto term = [&](std::size_t j) {
          return ::mpcore::detail::unfused_mul(static_cast<double>(panel[j * L + l]), static_cast<double>(xr[j]));
        };
        yr[l] = accumulate(term, n, bias ? bias + l : nullptr, acc, index[l]);
      }
    } else {
      run_lanes<T>(path, PanelSource<T>{xr, panel}, n, acc, index, bias, lanes, yr);
    }
  }
}

// A matmul's tasks: a panel of W and a chunk of batch rows. Each task packs its panel and
// runs its rows while the panel is in cache (at batch 1, packing all of W first would double
// the memory traffic); chunks keep every thread busy when W has few panels. Any partition
// gives the same bits: every output is computed alone.
struct PanelTasks {
  struct Task {
    std::size_t panel, r0, r1, i0, lanes;  // rows [r0, r1) against outputs i0 .. i0 + lanes
  };
  std::size_t batch, out, panels, workers, chunk, chunks;

  PanelTasks(std::size_t batch_rows, std::size_t outputs, int threads)
      : batch(batch_rows), out(outputs), panels((outputs + kLanes - 1) / kLanes),
        workers(static_cast<std::size_t>(threads > 0 ? threads : default_threads())), chunk(batch_rows) {
    if (panels < 4 * workers) chunk = std::max<std::size_t>(1, batch * panels / (4 * workers));
    chunks = (batch + chunk - 1) / chunk;
  }
  std::size_t count() const { return panels * chunks; }
  // parallel_for's min_grain: a range covers whole panels, so each panel is packed once —
  // unless there are fewer panels than threads: then every task is a range and packs its
  // panel again (32 x n copies against at least 32 x n rounded additions of its rows); with
  // one panel (W of at most 32 rows) whole panels ran the matmul on one thread.
  std::size_t grain() const { return panels >= workers ? chunks : 1; }
  Task operator[](std::size_t task) const {
    const std::size_t p = task / chunks, r0 = (task % chunks) * chunk, i0 = p * kLanes;
    return {p, r0, std::min(batch, r0 + chunk), i0, out - i0 < kLanes ? out - i0 : kLanes};
  }
};

// packed: W's panels packed earlier (a PreparedLinear's), or nullptr (each task packs its own).
template <class T>
void matmul_typed(const StoredMatrix& x, const StoredMatrix& w, const StoredMatrix& bias, double* y,
                  const MatmulOptions& o, const Path* force_path, const PackedPanels* packed) {
  const std::size_t batch = x.rows, out = w.rows, n = w.cols;
  const Accumulation acc = make_accumulation(o);
  const Path chosen = usable_path<T>(force_path ? *force_path : choose_path<T>(o), o);
  const RowMajor<T> xs(x);
  const std::vector<double> b = bias_values(bias);

  // The binary32 container is chosen per panel.
  const XDigest x_bits = x_digest<T>(chosen, [&](auto&& add) { add(xs.data(), xs.size()); });
  const PanelTasks tasks(batch, out, o.threads);
  parallel_for(tasks.count(), o.threads, [&](std::size_t begin, std::size_t end) {
    PanelCursor<T> cursor(w, packed, chosen, x_bits);
    for (std::size_t task = begin; task < end; ++task) {
      const PanelTasks::Task t = tasks[task];
      const T* panel = cursor.move_to(t.panel);
      panel_rows(cursor.path(), panel, xs.data() + t.r0 * n, t.r0, t.r1, n, out, t.i0, t.lanes, acc, b,
                 y + t.r0 * out + t.i0, out);
    }
  }, tasks.grain());
}

template <class T>
void matmul_entries_typed(const StoredMatrix& x, const StoredMatrix& w, const StoredMatrix& bias,
                          const std::size_t* entries, std::size_t count, double* y, const MatmulOptions& o,
                          const Float32Digest* w_digest) {
  const std::size_t out = w.rows, n = w.cols, L = kLanes;
  const Accumulation acc = make_accumulation(o);
  const RowMajor<T> xs(x);
  const std::vector<double> bias_all = bias_values(bias);
  const Path path = data_path<T>(usable_path<T>(choose_path<T>(o), o), x, w, w_digest);
  // Groups of up to kLanes consecutive entries of one input row r share x[r]: their W rows
  // are packed into a panel (O(kLanes n) copies for O(kLanes n) rounded additions) and run
  // by the same lane kernels as matmul, so the bits are the same.
  std::vector<std::size_t> group_start;
  for (std::size_t e = 0; e < count; ++e)
    if (group_start.empty() || e - group_start.back() == L || entries[e] / out != entries[group_start.back()] / out)
      group_start.push_back(e);
  group_start.push_back(count);
  parallel_for(group_start.size() - 1, o.threads, [&](std::size_t begin, std::size_t end) {
    std::uint64_t index[kLanes];
    std::size_t rows[kLanes];
    double b[kLanes], v[kLanes];
    std::vector<T> panel(n * L);
    for (std::size_t g = begin; g < end; ++g) {
      const std::size_t first = group_start[g], lanes = group_start[g + 1] - first;
      const std::size_t r = entries[first] / out;
      for (std::size_t l = 0; l < L; ++l) {
        const std::size_t idx = entries[first + (l < lanes ? l : lanes - 1)], i = idx % out;
        index[l] = idx;
        b[l] = bias_all.empty() ? 0.0 : bias_all[i];
        rows[l] = i;
      }
      pack_panel(w, 0, panel.data(), rows, lanes, runs_half_panel(path, acc, lanes) ? kLanes / 2 : kLanes);
      const T* xr = xs.data() + r * n;
      if (path == Path::Generic) {
        for (std::size_t l = 0; l < lanes; ++l) {
          auto term = [&](std::size_t j) {
            return ::mpcore::detail::unfused_mul(static_cast<double>(panel[j * L + l]), static_cast<double>(xr[j]));
          };
          y[index[l]] = accumulate(term, n, bias_all.empty() ? nullptr : &b[l], acc, index[l]);
        }
      } else {
        run_lanes<T>(path, PanelSource<T>{xr, panel.data()}, n, acc, index, bias_all.empty() ? nullptr : b, lanes, v);
        for (std::size_t l = 0; l < lanes; ++l) y[index[l]] = v[l];
      }
    }
  });
}

}  // namespace detail

// y must hold x.rows * w.rows doubles (row-major, batch x out) and not overlap x (read in
// place where it is stored as the compute type). bias: one row of w.rows values, or no
// operand. The operands may be stored in different types (each is converted a panel or a
// row at a time). `force_path` lets tests check that every kernel gives the same bits.
// packed: w's panels packed earlier (nullptr: packed as the tasks go).
inline void matmul_packed(const StoredMatrix& x, const StoredMatrix& w, const StoredMatrix& bias, double* y,
                          const MatmulOptions& o, const Path* force_path, const PackedPanels* packed) {
  check_matmul_shapes(x.cols, w.rows, w.cols, bias.data, bias.cols, o);
  if (x.rows == 0 || w.rows == 0) return;
  with_compute_type(x, w, [&](auto t) { detail::matmul_typed<decltype(t)>(x, w, bias, y, o, force_path, packed); });
}

inline void matmul(const StoredMatrix& x, const PreparedLinear& layer, double* y, const MatmulOptions& o,
                   const Path* force_path = nullptr) {
  matmul_packed(x, layer.w(), layer.bias(), y, o, force_path, layer.panels());
}

inline void matmul(const StoredMatrix& x, const StoredMatrix& w, const StoredMatrix& bias, double* y,
                   const MatmulOptions& o, const Path* force_path = nullptr) {
  matmul(x, PreparedLinear::view(w, bias), y, o, force_path);
}

template <class T>
void matmul(const MatrixView<T>& x, const MatrixView<T>& w, const VectorView<T>& bias, double* y,
            const MatmulOptions& o, const Path* force_path = nullptr) {
  matmul(stored(x), stored(w), stored(bias), y, o, force_path);
}

// Only the listed outputs: y[e] for each e = r * out + i in `entries` gets exactly the
// bits cpu::matmul(x, w, bias, y, o) would give it, at a cost proportional to the list
// (W's rows are read where listed; W is never copied whole).
// w_digest: W's binary32 digest where it is known (a prepared layer's), else null.
inline void matmul_entries(const StoredMatrix& x, const StoredMatrix& w, const StoredMatrix& bias,
                           const std::size_t* entries, std::size_t count, double* y, const MatmulOptions& o,
                           const Float32Digest* w_digest = nullptr) {
  check_matmul_shapes(x.cols, w.rows, w.cols, bias.data, bias.cols, o);
  if (count == 0) return;
  with_compute_type(x, w, [&](auto t) {
    detail::matmul_entries_typed<decltype(t)>(x, w, bias, entries, count, y, o, w_digest);
  });
}

// The prepared layer's whole-W digest spares the recompute a pass over W.
inline void matmul_entries(const StoredMatrix& x, const PreparedLinear& layer, const std::size_t* entries,
                           std::size_t count, double* y, const MatmulOptions& o) {
  const PackedPanels* packed = layer.panels();
  const Float32Digest* w_digest = nullptr;
#if !defined(__CUDACC__)
  if (packed && packed->binary32) w_digest = &packed->whole;
#endif
  matmul_entries(x, layer.w(), layer.bias(), entries, count, y, o, w_digest);
}

template <class T>
void matmul_entries(const MatrixView<T>& x, const MatrixView<T>& w, const VectorView<T>& bias,
                    const std::size_t* entries, std::size_t count, double* y, const MatmulOptions& o) {
  matmul_entries(stored(x), stored(w), stored(bias), entries, count, y, o);
}

// The path matmul takes for these operands when every panel allows what all of w allows.
inline Path matmul_path(const StoredMatrix& x, const StoredMatrix& w, const MatmulOptions& o) {
  return with_compute_type(x, w, [&](auto t) {
    using T = decltype(t);
    return data_path<T>(usable_path<T>(choose_path<T>(o), o), x, w);
  });
}

}  // namespace cpu
}  // namespace mpcore
