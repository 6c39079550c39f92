// Simulated-accumulation matmul on the CPU: y[r, i] = sum_j W[i, j] x[r, j] (+ b[i])
// accumulated exactly as accumulator.hpp defines, for every output.
#pragma once

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "../accumulator.hpp"
#include "../format.hpp"
#include "../matrix.hpp"
#include "../rounding.hpp"
#include "parallel.hpp"
#include "prepared.hpp"
#include "stored.hpp"
#if !defined(__CUDACC__)  // nvcc's front end lacks GCC's vector extensions
#include "float32_exact.hpp"
#include "lanes/kernels.hpp"
#include "lanes/native.hpp"
#endif

namespace mpcore {

struct MatmulOptions {
  Format acc = formats::fp32;          // accumulator format
  Rounding rounding = Rounding::NearestEven;
  Order order = Order::Sequential;
  std::size_t block = 32;              // Blocked: products per inner block
  Format outer = formats::fp32;        // Blocked: outer accumulator format
  std::uint64_t seed = 0;              // Stochastic: key of the random streams
  int sr_bits = kMaxStochasticBits;    // Stochastic: random bits per decision
  int threads = 0;                     // 0: MPCORE_NUM_THREADS or all cores
};

inline Accumulation make_accumulation(const MatmulOptions& o) {
  return make_accumulation(o.acc, o.rounding, o.order, o.block, o.outer, o.seed, o.sr_bits);
}

namespace cpu {
namespace detail {

// Outputs computed side by side: independent dependency chains keep the FPU busy.
inline constexpr std::size_t kLanes = kPanelRows;

// Where the factors of term j of lane l come from.
// PanelSource: kLanes rows of W (a packed panel) against one row of x.
template <class T>
struct PanelSource {
  const T* xr;
  const T* panel;
  T w(std::size_t j, std::size_t l) const { return panel[j * kLanes + l]; }
  T x(std::size_t j, std::size_t) const { return xr[j]; }
};
// Sequential order, kLanes independent outputs at a time, simulated rounding.
// index[l] is lane l's output index (its stochastic-rounding stream).
template <Rounding Mode, class Source>
void sequential_lanes(const Source& src, std::size_t n, const Rounder& R, std::uint64_t seed,
                      const std::uint64_t* index, double* s) {
  std::uint64_t key[kLanes];
  for (std::size_t l = 0; l < kLanes; ++l) {
    s[l] = 0.0;
    key[l] = Mode == Rounding::Stochastic ? stream_key(seed, index[l]) : 0;
  }
  Rounder r = R;
  r.mode = Mode;  // a compile-time constant for the branches inside round_sum
  for (std::size_t j = 0; j < n; ++j) {
    double p[kLanes], next[kLanes];
    std::uint64_t bits[kLanes];
    bool special[kLanes];
    bool any = false;
    for (std::size_t l = 0; l < kLanes; ++l) {
      p[l] = ::mpcore::detail::unfused_mul(static_cast<double>(src.w(j, l)), static_cast<double>(src.x(j, l)));
      bits[l] = Mode == Rounding::Stochastic ? stream_bits(key[l], j) : 0;
      next[l] = add_rounded_normal<Mode>(s[l], p[l], r, bits[l], special[l]);
      any |= special[l];
    }
    if (any)  // rare: zeros, subnormals, overflow, non-finite values
      for (std::size_t l = 0; l < kLanes; ++l)
        if (special[l]) next[l] = add_rounded(s[l], p[l], r, bits[l]);
    for (std::size_t l = 0; l < kLanes; ++l) s[l] = next[l];
  }
}

// Native fp32 accumulation of float inputs: fmaf rounds w*x + s once, exactly the
// model's step (the product of two floats is exact inside the fma).
template <class Source>
void native_fp32_lanes(const Source& src, std::size_t n, double* out) {
  float s[kLanes] = {};
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t l = 0; l < kLanes; ++l)
      s[l] = std::fma(static_cast<float>(src.w(j, l)), static_cast<float>(src.x(j, l)), s[l]);
  for (std::size_t l = 0; l < kLanes; ++l) out[l] = s[l];
}

// Native fp64 accumulation: fma for float inputs (exact product, one rounding);
// for double inputs the product is rounded first, as the simulated path documents.
template <class T, class Source>
void native_fp64_lanes(const Source& src, std::size_t n, double* out) {
  double s[kLanes] = {};
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t l = 0; l < kLanes; ++l) {
      const double w = static_cast<double>(src.w(j, l)), x = static_cast<double>(src.x(j, l));
      if constexpr (sizeof(T) == sizeof(float)) {
        s[l] = std::fma(w, x, s[l]);
      } else {
        s[l] = s[l] + ::mpcore::detail::unfused_mul(w, x);  // never one fma (Clang fuses at -ffp-contract=fast)
      }
    }
  for (std::size_t l = 0; l < kLanes; ++l) out[l] = s[l];
}

}  // namespace detail

// Which kernel a call takes (reported by benchmarks and tests). Float32Lanes is
// SimulatedLanes in a binary32 container; it needs float inputs whose products are exact
// in binary32, which matmul checks on the data (and otherwise takes SimulatedLanes).
enum class Path { NativeFp32, NativeFp64, SimulatedLanes, Generic, Float32Lanes };

// Whether the binary32 lane kernel rounds to these options (the data is checked apart).
template <class T>
bool float32_lanes_support(const MatmulOptions& o) {
#if !defined(__CUDACC__)
  return std::is_same_v<T, float> && simd::supports_float32(make_rounder(o.acc, o.rounding, o.sr_bits));
#else
  (void)o;
  return false;
#endif
}

// A forced path falls back to one that gives the model's bits for these options.
template <class T>
Path usable_path(Path p, const MatmulOptions& o) {
#if !defined(__CUDACC__)
  // Blocked and pairwise orders run in the vector lanes too (not natively).
  if (o.order != Order::Sequential) {
    if (p == Path::Generic || !simd::supports(o.acc, o.rounding)) return Path::Generic;
    return p == Path::Float32Lanes && float32_lanes_support<T>(o) ? p : Path::SimulatedLanes;
  }
#endif
  if (o.order != Order::Sequential) return Path::Generic;
  if (p == Path::Float32Lanes && !float32_lanes_support<T>(o)) p = Path::SimulatedLanes;
  if (p == Path::NativeFp32 && (sizeof(T) != sizeof(float) || !(o.acc == formats::fp32))) p = Path::SimulatedLanes;
  if (p == Path::NativeFp64 && !(o.acc == formats::fp64)) p = Path::SimulatedLanes;
  if ((p == Path::NativeFp32 || p == Path::NativeFp64) && o.rounding != Rounding::NearestEven)
    p = Path::SimulatedLanes;
  return p;
}

// The path for these options before the data is seen (Float32Lanes may still become
// SimulatedLanes: see data_path).
template <class T>
Path choose_path(const MatmulOptions& o) {
  if (o.order != Order::Sequential) return usable_path<T>(Path::Float32Lanes, o);
  if (o.rounding == Rounding::NearestEven && o.acc == formats::fp64) return Path::NativeFp64;
  if (o.rounding == Rounding::NearestEven && o.acc == formats::fp32 && sizeof(T) == sizeof(float))
    return Path::NativeFp32;
  return usable_path<T>(Path::Float32Lanes, o);
}

// Float32Lanes only where every product of a value of x and a value of w is exact in
// binary32 (the digests are of all of x and all of w, so any pair qualifies).
template <class T>
Path data_path(Path p, const StoredMatrix& x, const StoredMatrix& w) {
#if !defined(__CUDACC__)
  if constexpr (std::is_same_v<T, float>) {
    if (p == Path::Float32Lanes && !products_exact_in_float32(digest(x), digest(w))) return Path::SimulatedLanes;
    return p;
  }
#endif
  (void)x, (void)w;
  return p == Path::Float32Lanes ? Path::SimulatedLanes : p;
}

namespace detail {

// The bias as the last term of each sum s[l] (its step number is accumulate()'s), into out.
inline void add_bias(const double* s, std::size_t n, const Accumulation& acc, const std::uint64_t* index,
                     const double* bias, std::size_t lanes, double* out) {
  const bool sr = acc.acc.mode == Rounding::Stochastic;
  const std::uint64_t bias_step = acc.order == Order::Pairwise ? 2 * n : n;
  for (std::size_t l = 0; l < lanes; ++l) {
    double v = s[l];
    if (bias) v = add_rounded(v, bias[l], acc.acc, sr ? stream_bits(stream_key(acc.seed, index[l]), bias_step) : 0);
    out[l] = v;
  }
}

// kLanes outputs in acc's order, then the bias: out[l] for lanes [0, lanes).
template <class T, class Source>
void run_lanes(Path path, const Source& src, std::size_t n, const Accumulation& acc, const std::uint64_t* index,
               const double* bias, std::size_t lanes, double* out) {
  double s[kLanes];
  constexpr bool panel = std::is_same_v<Source, PanelSource<T>>;
  if (path == Path::NativeFp32) {
    if constexpr (sizeof(T) == sizeof(float)) {
#if !defined(__CUDACC__)
      if constexpr (panel) {
        if (!simd::native_fp32(src.xr, src.panel, n, s)) native_fp32_lanes(src, n, s);
      } else
#endif
        native_fp32_lanes(src, n, s);
    }
  } else if (path == Path::NativeFp64) {
#if !defined(__CUDACC__)
    if constexpr (panel) {
      if (!simd::native_fp64(src.xr, src.panel, n, s)) native_fp64_lanes<T>(src, n, s);
    } else
#endif
      native_fp64_lanes<T>(src, n, s);
#if !defined(__CUDACC__)
  } else if (panel && simd::supports(acc.acc)) {
    if constexpr (panel) {
      static_assert(kLanes == simd::kWidth, "the vector kernel computes kLanes outputs");
      // The sequential sum of terms [j0, j0 + len) from zero into t.
      auto sum_lanes = [&](std::size_t j0, std::size_t len, double* t) {
        if constexpr (std::is_same_v<T, float>) {
          if (path == Path::Float32Lanes)
            return simd::lanes32(src.xr + j0, src.panel + j0 * kLanes, len, acc.acc, acc.seed, index, t, j0);
        }
        simd::lanes(src.xr + j0, src.panel + j0 * kLanes, len, acc.acc, acc.seed, index, t, j0);
      };
      if (acc.order == Order::Pairwise) {
        if constexpr (std::is_same_v<T, float>) {
          if (path == Path::Float32Lanes) simd::pairwise_lanes32(src.xr, src.panel, n, acc, index, s);
        }
        if (path != Path::Float32Lanes) simd::pairwise_lanes(src.xr, src.panel, n, acc, index, s);
      } else if (acc.order == Order::Blocked) {
        // Each block summed from zero in the lanes, then added into the outer accumulator:
        // by hardware addition when the outer format is fp32 or fp64 with nearest-even (one
        // IEEE rounding of two values of that format, the model's step), else per lane.
        const bool sr = acc.acc.mode == Rounding::Stochastic;
        const bool nearest = acc.acc.mode == Rounding::NearestEven;
        const bool ieee_outer = acc.outer.subnormals && std::isinf(acc.outer.overflow_value);
        const bool outer32 = nearest && ieee_outer && acc.outer.precision == 24 && acc.outer.emin == -126 &&
                             acc.outer.max_finite == static_cast<double>(FLT_MAX) && acc.acc.precision <= 24 &&
                             acc.acc.emin >= -126 && acc.acc.max_finite <= static_cast<double>(FLT_MAX);
        const bool outer64 = nearest && ieee_outer && acc.outer.precision == 53 && acc.outer.emin == -1022 &&
                             acc.outer.max_finite == DBL_MAX;
        double t[kLanes];
        float s32[kLanes] = {};
        std::uint64_t k = 0;
        for (std::size_t l = 0; l < kLanes; ++l) s[l] = 0.0;
        for (std::size_t j0 = 0; j0 < n; j0 += acc.block, ++k) {
          const std::size_t len = j0 + acc.block < n ? acc.block : n - j0;
          sum_lanes(j0, len, t);
          if (outer32) {
            for (std::size_t l = 0; l < kLanes; ++l) s32[l] += static_cast<float>(t[l]);  // t[l] is a binary32 number
          } else if (outer64) {
            for (std::size_t l = 0; l < kLanes; ++l) s[l] += t[l];
          } else {
            for (std::size_t l = 0; l < kLanes; ++l)
              s[l] = add_rounded(s[l], t[l], acc.outer, sr ? stream_bits(stream_key(acc.seed, index[l]), n + k) : 0);
          }
        }
        if (outer32)
          for (std::size_t l = 0; l < kLanes; ++l) s[l] = s32[l];
        for (std::size_t l = 0; l < lanes; ++l) {
          double v = s[l];
          if (bias) v = add_rounded(v, bias[l], acc.outer, sr ? stream_bits(stream_key(acc.seed, index[l]), n + k) : 0);
          out[l] = v;
        }
        return;
      } else {
        sum_lanes(0, n, s);
      }
    }
#endif
  } else {
    const Rounder& R = acc.acc;
    with_any_rounding(R.mode,
                      [&](auto m) { sequential_lanes<decltype(m)::value>(src, n, R, acc.seed, index, s); });
  }
  add_bias(s, n, acc, index, bias, lanes, out);
}

#if !defined(__CUDACC__)
// Two rows of x (sequential order, binary32 lanes) against one panel: the bits of two
// run_lanes calls. index, out: kLanes entries per row.
inline void run_two_rows32(const float* const* xr, const float* panel, std::size_t n, const Accumulation& acc,
                           const std::uint64_t* index, const double* bias, std::size_t lanes, double* const* out) {
  double s[2 * kLanes];
  simd::lanes32_two_rows(xr, panel, n, acc.acc, acc.seed, index, s);
  for (int row = 0; row < 2; ++row) add_bias(s + row * kLanes, n, acc, index + row * kLanes, bias, lanes, out[row]);
}
#endif

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
          if (path == Path::Float32Lanes && acc.order == Order::Sequential && r + 1 < r1) {
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
