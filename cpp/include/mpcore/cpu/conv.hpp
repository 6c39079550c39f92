// A convolution as the matmul the README defines — output (n, o, p) is row n * P + p of
// matmul(windows(x), W_g, b_g) (windows.hpp), with that row's stream indices — without
// the windows matrix: each task builds the windows of a block of rows in cache, runs them
// against its panel of W, and writes each output where a convolution keeps it,
// y[n, o0 + i, p], converted to Out once (the binary64 result rounded to nearest even, as
// torch's .to does). The windows of a 256 x 8 x 12 x 12 input under a 5 x 5 kernel as a 13 MB
// matrix (0.75 ms), its digest for the binary32 lanes (0.5 ms, one thread) and the result's
// transpose (0.34 ms) cost the converted Conv2d about 3 % of its 24 ms; here the digest is
// the image's (11 times smaller) and nothing is written twice.
#pragma once

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "matmul.hpp"
#include "windows.hpp"

namespace mpcore::cpu {

namespace detail {

template <class T, class S, class Out>
void conv_typed(const ConvImage<S>& im, const ConvGeometry& g, const PreparedLinear& layer, const MatmulOptions& o,
                Out* y, std::size_t y_channels, std::size_t o0) {
  // Windows built at once: up to 64 rows, fewer where a row is long, so that a block stays
  // in the core's cache (256 KB) while the panel runs it.
  constexpr std::size_t kBlock = 64;
  const std::size_t wo_n = g.out_size(im.width, 1), positions = g.out_size(im.height, 0) * wo_n;
  const std::size_t rows = im.batch * positions, out = layer.rows(), n = layer.w().cols;
  const std::size_t block = std::clamp<std::size_t>((std::size_t{1} << 18) / (n * sizeof(T) + 1), 4, kBlock);
  const Accumulation acc = make_accumulation(o);
  const Path chosen = usable_path<T>(choose_path<T>(o), o);
  const std::vector<double> b = bias_values(layer.bias());
  // What the binary32 lanes need to know of the windows: the digest of the group's channels
  // of every sample (a window holds those values and zeros, which are always exact).
  const XDigest x_bits = x_digest<S>(chosen, [&](auto&& add) {
    const std::size_t slab = im.count * im.height * im.width;
    for (std::size_t n = 0; n < im.batch; ++n) add(im.x + (n * im.channels + im.c0) * im.height * im.width, slab);
  });
  const PanelTasks tasks(rows, out, o.threads);
  with_kernel_width(g.kernel[1], [&](auto kw) {
    parallel_for(tasks.count(), o.threads, [&](std::size_t begin, std::size_t end) {
      PanelCursor<T> cursor(layer.w(), layer.panels(), chosen, x_bits);
      std::vector<T> windows(block * n);
      std::vector<double> z(block * kLanes);
      std::size_t at[kBlock];  // where row r0 + k's first output lies in y
      for (std::size_t task = begin; task < end; ++task) {
        const PanelTasks::Task t = tasks[task];
        const T* panel = cursor.move_to(t.panel);
        for (std::size_t r0 = t.r0; r0 < t.r1; r0 += block) {
          const std::size_t r1 = std::min(t.r1, r0 + block);
          for (std::size_t r = r0; r < r1; ++r) {
            const std::size_t sample = r / positions, p = r % positions;
            window_row<kw>(im, g, sample, p / wo_n, p % wo_n, windows.data() + (r - r0) * n);
            at[r - r0] = (sample * y_channels + o0 + t.i0) * positions + p;
          }
          panel_rows(cursor.path(), panel, windows.data(), r0, r1, n, out, t.i0, t.lanes, acc, b, z.data(), kLanes);
          for (std::size_t l = 0; l < t.lanes; ++l)  // y[sample, o0 + i0 + l, p]
            for (std::size_t k = 0; k < r1 - r0; ++k) y[at[k] + l * positions] = static_cast<Out>(z[k * kLanes + l]);
        }
      }
    }, tasks.grain());
  });
}

}  // namespace detail

// The convolution of channels [c0, c0 + count) of x (N x C x H x W, row-major) with the
// layer (out_g x count * kh * kw, the group's W flattened as torch's W.reshape(out_g, -1),
// and its bias) into channels [o0, o0 + out_g) of y (N x y_channels x Ho x Wo, row-major):
// the bits of matmul(windows, layer) (the same options, so the same streams) converted to
// Out. The other channels of y are not touched.
template <class S, class Out>
void conv_matmul(const S* x, std::size_t batch, std::size_t channels, std::size_t height, std::size_t width,
                 const ConvGeometry& g, std::size_t c0, std::size_t count, const PreparedLinear& layer,
                 const MatmulOptions& o, Out* y, std::size_t y_channels, std::size_t o0) {
  static_assert(std::is_same_v<S, float> || std::is_same_v<S, double>, "x holds float or double values");
  const std::string bad = validate_windows(g, channels, height, width, c0, count);
  if (!bad.empty()) throw std::invalid_argument(bad);
  check_matmul_shapes(count * g.kernel[0] * g.kernel[1], layer.rows(), layer.w().cols, layer.bias().data,
                      layer.bias().cols, o);
  if (o0 > y_channels || layer.rows() > y_channels - o0)
    throw std::invalid_argument("output channels [" + std::to_string(o0) + ", " + std::to_string(o0 + layer.rows()) +
                                ") are not within the " + std::to_string(y_channels) + " channels of y");
  if (batch == 0 || layer.rows() == 0) return;
  const ConvImage<S> im{x, batch, channels, height, width, c0, count};
  if constexpr (std::is_same_v<S, float>) {
    if (layer.w().narrow()) return detail::conv_typed<float>(im, g, layer, o, y, y_channels, o0);
  }
  detail::conv_typed<double>(im, g, layer, o, y, y_channels, o0);
}

}  // namespace mpcore::cpu
