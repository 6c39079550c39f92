// A convolution's windows as the rows of a matrix, so that the convolution is one matmul
// (the order the README defines): row (n, ho, wo) of the (N * Ho * Wo) x (count * kh * kw)
// result holds, for c, then i, then j,
//   x[n, c0 + c, ho * stride_h - pad_h + i * dilation_h, wo * stride_w - pad_w + j * dilation_w]
// and 0 where that lies in the padding: torch.nn.functional.unfold(x[:, c0:c0 + count])
// transposed and stacked over n, built in one pass on mpcore's threads (a strided copy in
// torch ran on one thread while the layer's own threads waited).
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

#include "parallel.hpp"

namespace mpcore::cpu {

// Height then width, as torch orders them.
struct ConvGeometry {
  std::size_t kernel[2] = {1, 1}, stride[2] = {1, 1}, padding[2] = {0, 0}, dilation[2] = {1, 1};

  // Output positions along dimension d of an input of `in` values (0 where the kernel does
  // not fit the padded input).
  std::size_t out_size(std::size_t in, int d) const {
    const std::size_t span = dilation[d] * (kernel[d] - 1) + 1, padded = in + 2 * padding[d];
    return padded < span ? 0 : (padded - span) / stride[d] + 1;
  }
};

// An empty string, or what is wrong with g for an input of C x H x W and channels
// [c0, c0 + count).
inline std::string validate_windows(const ConvGeometry& g, std::size_t channels, std::size_t height,
                                    std::size_t width, std::size_t c0, std::size_t count) {
  constexpr std::size_t kLimit = std::size_t{1} << 31;  // keeps every position's arithmetic in range
  for (int d = 0; d < 2; ++d) {
    if (g.kernel[d] == 0) return "kernel sizes must be positive";
    if (g.stride[d] == 0) return "strides must be positive";
    if (g.dilation[d] == 0) return "dilations must be positive";
    if (g.kernel[d] >= kLimit || g.stride[d] >= kLimit || g.padding[d] >= kLimit || g.dilation[d] >= kLimit)
      return "kernel, stride, padding and dilation must be below 2^31";
  }
  if (height >= kLimit || width >= kLimit) return "the input's height and width must be below 2^31";
  if (c0 > channels || count > channels - c0)
    return "channels [" + std::to_string(c0) + ", " + std::to_string(c0 + count) + ") are not within the " +
           std::to_string(channels) + " channels of x";
  if (g.out_size(height, 0) == 0 || g.out_size(width, 1) == 0)
    return "the kernel (with its dilation) is larger than the padded input";
  return {};
}

// out: (N * Ho * Wo) x (count * kh * kw) values, row-major; x: N x C x H x W, row-major.
template <class T>
void conv_windows(const T* x, std::size_t batch, std::size_t channels, std::size_t height, std::size_t width,
                  const ConvGeometry& g, std::size_t c0, std::size_t count, T* out, int threads) {
  const std::string bad = validate_windows(g, channels, height, width, c0, count);
  if (!bad.empty()) throw std::invalid_argument(bad);
  const std::size_t ho_n = g.out_size(height, 0), wo_n = g.out_size(width, 1);
  const std::size_t kh = g.kernel[0], kw = g.kernel[1], row_len = count * kh * kw;
  using Index = std::ptrdiff_t;
  const Index h = static_cast<Index>(height), w = static_cast<Index>(width);
  // A task: one output row (n, ho) of wo_n windows.
  parallel_for(batch * ho_n, threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t task = begin; task < end; ++task) {
      const std::size_t n = task / ho_n, ho = task % ho_n;
      const Index top = static_cast<Index>(ho * g.stride[0]) - static_cast<Index>(g.padding[0]);
      T* dst = out + task * wo_n * row_len;
      for (std::size_t wo = 0; wo < wo_n; ++wo) {
        const Index left = static_cast<Index>(wo * g.stride[1]) - static_cast<Index>(g.padding[1]);
        const Index right = left + static_cast<Index>(g.dilation[1] * (kw - 1));
        const bool inside_w = left >= 0 && right < w;
        for (std::size_t c = 0; c < count; ++c) {
          const T* plane = x + (n * channels + c0 + c) * height * width;
          for (std::size_t i = 0; i < kh; ++i, dst += kw) {
            const Index r = top + static_cast<Index>(i * g.dilation[0]);
            if (r < 0 || r >= h) {
              for (std::size_t j = 0; j < kw; ++j) dst[j] = T(0);
              continue;
            }
            if (inside_w && g.dilation[1] == 1) {
              const T* src = plane + r * w + left;
              for (std::size_t j = 0; j < kw; ++j) dst[j] = src[j];
            } else {
              for (std::size_t j = 0; j < kw; ++j) {
                const Index col = left + static_cast<Index>(j * g.dilation[1]);
                dst[j] = col >= 0 && col < w ? plane[r * w + col] : T(0);
              }
            }
          }
        }
      }
    }
  });
}

}  // namespace mpcore::cpu
