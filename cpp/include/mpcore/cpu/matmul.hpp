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

#include "../accumulator.hpp"
#include "../matmul_options.hpp"
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
namespace detail {

inline void check_shapes(std::size_t x_cols, std::size_t w_rows, std::size_t w_cols, const void* bias,
                         std::size_t bias_size, const MatmulOptions& o) {
  if (x_cols != w_cols)
    throw std::invalid_argument("x has " + std::to_string(x_cols) + " features but w has " +
                                std::to_string(w_cols) + " columns");
  if (bias && bias_size != w_rows)
    throw std::invalid_argument("b has " + std::to_string(bias_size) + " entries but w has " +
                                std::to_string(w_rows) + " rows");
  const std::string bad_acc = validate(o.acc), bad_outer = validate(o.outer);
  if (!bad_acc.empty()) throw std::invalid_argument("acc: " + bad_acc);
  if (!bad_outer.empty()) throw std::invalid_argument("outer: " + bad_outer);
}

}  // namespace detail

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

// packed: W's panels packed earlier (a PreparedLinear's), or nullptr (each task packs its own).
template <class T>
void matmul_typed(const StoredMatrix& x, const StoredMatrix& w, const StoredMatrix& bias, double* y,
                  const MatmulOptions& o, const Path* force_path, const PackedPanels* packed) {
  const std::size_t batch = x.rows, out = w.rows, n = w.cols, L = kLanes;
  const Accumulation acc = make_accumulation(o);
  const Path chosen = usable_path<T>(force_path ? *force_path : choose_path<T>(o), o);
  const std::vector<T> xs = contiguous_rows<T>(x);
  const std::vector<double> b = bias_values(bias);

  // Tasks: a panel of W and a chunk of batch rows. Each task packs its panel and runs its
  // rows while the panel is in cache (at batch 1, packing all of W first would double
  // the memory traffic); chunks keep every thread busy when W has few panels. Any
  // partition gives the same bits: every output is computed alone.
  const std::size_t npanels = (out + L - 1) / L;
  const std::size_t workers = static_cast<std::size_t>(o.threads > 0 ? o.threads : default_threads());
  std::size_t chunk = batch;
  if (npanels < 4 * workers) chunk = std::max<std::size_t>(1, batch * npanels / (4 * workers));
  const std::size_t chunks = (batch + chunk - 1) / chunk;
  // The binary32 container is chosen per panel (the bits are the same either way).
  bool x32 = false;
#if !defined(__CUDACC__)
  Float32Digest x_digest;
  if constexpr (std::is_same_v<T, float>) {
    if (chosen == Path::Float32Lanes) {
      x_digest = digest(xs.data(), xs.size());
      x32 = true;
    }
  }
#endif
  parallel_for(npanels * chunks, o.threads, [&](std::size_t begin, std::size_t end) {
    std::uint64_t index[kLanes];
    std::vector<T> panel_buffer(packed && packed->binary32 == std::is_same_v<T, float> ? 0 : n * L);
    std::size_t current = npanels;  // the panel `panel` points at
    const T* panel = nullptr;
    Path path = chosen;
    for (std::size_t task = begin; task < end; ++task) {
      const std::size_t p = task / chunks, r0 = (task % chunks) * chunk, r1 = std::min(batch, r0 + chunk);
      const std::size_t i0 = p * L, lanes = out - i0 < L ? out - i0 : L;
      if (current != p) {
        current = p;
        path = chosen == Path::Float32Lanes ? Path::SimulatedLanes : chosen;
        if (packed && packed->binary32 == std::is_same_v<T, float>) {
          panel = packed->panel<T>(p);
#if !defined(__CUDACC__)
          if constexpr (std::is_same_v<T, float>) {
            if (x32 && products_exact_in_float32(x_digest, packed->digests[p])) path = Path::Float32Lanes;
          }
#endif
        } else {
          if (packed) {  // binary32 panels, binary64 compute (a float64 x): convert, in order
            const float* src = packed->panel<float>(p);
            for (std::size_t k = 0; k < n * L; ++k) panel_buffer[k] = static_cast<T>(src[k]);
          } else {
            pack_panel(w, p, panel_buffer.data());
          }
          panel = panel_buffer.data();
#if !defined(__CUDACC__)
          if constexpr (std::is_same_v<T, float>) {
            if (x32 && products_exact_in_float32(x_digest, digest(panel, n * L))) path = Path::Float32Lanes;
          }
#endif
        }
      }
      for (std::size_t r = r0; r < r1; ++r) {
        const T* xr = xs.data() + r * n;
        for (std::size_t l = 0; l < L; ++l) index[l] = r * out + i0 + l;
#if !defined(__CUDACC__)
        if constexpr (std::is_same_v<T, float>) {
          if (path == Path::Float32Lanes && acc.order != Order::Blocked && r + 1 < r1) {
            std::uint64_t index2[2 * kLanes];
            for (std::size_t l = 0; l < 2 * L; ++l) index2[l] = (r + l / L) * out + i0 + l % L;
            const float* rows[2] = {xr, xr + n};
            double* outs[2] = {y + r * out + i0, y + (r + 1) * out + i0};
            run_two_rows32(rows, panel, n, acc, index2, b.empty() ? nullptr : &b[i0], lanes, outs);
            ++r;
            continue;
          }
        }
#endif
        if (path == Path::Generic) {
          for (std::size_t l = 0; l < lanes; ++l) {
            auto term = [&](std::size_t j) {
              return ::mpcore::detail::unfused_mul(static_cast<double>(panel[j * L + l]), static_cast<double>(xr[j]));
            };
            y[index[l]] = accumulate(term, n, b.empty() ? nullptr : &b[i0 + l], acc, index[l]);
          }
        } else {
          run_lanes<T>(path, PanelSource<T>{xr, panel}, n, acc, index, b.empty() ? nullptr : &b[i0], lanes,
                       y + r * out + i0);
        }
      }
    }
  }, chunks);  // a range covers whole panels: each packs its panel once
}

template <class T>
void matmul_entries_typed(const StoredMatrix& x, const StoredMatrix& w, const StoredMatrix& bias,
                          const std::size_t* entries, std::size_t count, double* y, const MatmulOptions& o) {
  const std::size_t out = w.rows, n = w.cols, L = kLanes;
  const Accumulation acc = make_accumulation(o);
  const std::vector<T> xs = contiguous_rows<T>(x);
  const std::vector<double> bias_all = bias_values(bias);
  const Path path = data_path<T>(usable_path<T>(choose_path<T>(o), o), x, w);
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
      pack_panel(w, 0, panel.data(), rows, lanes);
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

// y must hold x.rows * w.rows doubles (row-major, batch x out). bias: one row of w.rows
// values, or no operand. The operands may be stored in different types (each is converted
// a panel or a row at a time). `force_path` lets tests check that every kernel gives the
// same bits.
// packed: w's panels packed earlier (nullptr: packed as the tasks go).
inline void matmul_packed(const StoredMatrix& x, const StoredMatrix& w, const StoredMatrix& bias, double* y,
                          const MatmulOptions& o, const Path* force_path, const PackedPanels* packed) {
  detail::check_shapes(x.cols, w.rows, w.cols, bias.data, bias.cols, o);
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
inline void matmul_entries(const StoredMatrix& x, const StoredMatrix& w, const StoredMatrix& bias,
                           const std::size_t* entries, std::size_t count, double* y, const MatmulOptions& o) {
  detail::check_shapes(x.cols, w.rows, w.cols, bias.data, bias.cols, o);
  if (count == 0) return;
  with_compute_type(x, w, [&](auto t) {
    detail::matmul_entries_typed<decltype(t)>(x, w, bias, entries, count, y, o);
  });
}

inline void matmul_entries(const StoredMatrix& x, const PreparedLinear& layer, const std::size_t* entries,
                           std::size_t count, double* y, const MatmulOptions& o) {
  matmul_entries(x, layer.w(), layer.bias(), entries, count, y, o);
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
