// A convolution's windows as the rows of a matrix, so that the convolution is one matmul
// (the order the README defines): row (n, ho, wo) of the (N * Ho * Wo) x (count * kh * kw)
// result holds, for c, then i, then j,
//   x[n, c0 + c, ho * stride_h - pad_h + i * dilation_h, wo * stride_w - pad_w + j * dilation_w]
// and 0 where that lies in the padding: torch.nn.functional.unfold(x[:, c0:c0 + count])
// transposed and stacked over n, built in one pass on mpcore's threads (a strided copy in
// torch ran on one thread while the layer's own threads waited).
#pragma once

#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

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

// The image a convolution reads: x (N x C x H x W, row-major) and the channels
// [c0, c0 + count) of its group.
template <class S>
struct ConvImage {
  const S* x;
  std::size_t batch, channels, height, width, c0, count;
};

// f(std::integral_constant<std::size_t, KW>) with KW = kw for kernel widths 1 to 7, else
// KW = 0 (the width known at run time only). A run of a known width is a move or two; a
// loop of a run-time length cost about as much per run as its values (the windows of
// 256 x 8 x 12 x 12 under a 5 x 5 kernel, 2 threads: 0.77 -> 0.50 ms).
template <class F>
decltype(auto) with_kernel_width(std::size_t kw, F&& f) {
  switch (kw) {
    case 1: return f(std::integral_constant<std::size_t, 1>{});
    case 2: return f(std::integral_constant<std::size_t, 2>{});
    case 3: return f(std::integral_constant<std::size_t, 3>{});
    case 4: return f(std::integral_constant<std::size_t, 4>{});
    case 5: return f(std::integral_constant<std::size_t, 5>{});
    case 6: return f(std::integral_constant<std::size_t, 6>{});
    case 7: return f(std::integral_constant<std::size_t, 7>{});
    default: return f(std::integral_constant<std::size_t, 0>{});
  }
}

// Window (n, ho, wo) of the image: count * kh * kw values (c, then i, then j), converted to T,
// into dst. KW: the kernel width g.kernel[1] where known when compiling, else 0.
template <std::size_t KW = 0, class S, class T>
inline void window_row(const ConvImage<S>& im, const ConvGeometry& g, std::size_t n, std::size_t ho, std::size_t wo,
                       T* dst) {
  using Index = std::ptrdiff_t;
  const Index h = static_cast<Index>(im.height), w = static_cast<Index>(im.width);
  const std::size_t kh = g.kernel[0], kw = KW ? KW : g.kernel[1];
  const Index top = static_cast<Index>(ho * g.stride[0]) - static_cast<Index>(g.padding[0]);
  const Index left = static_cast<Index>(wo * g.stride[1]) - static_cast<Index>(g.padding[1]);
  const Index right = left + static_cast<Index>(g.dilation[1] * (kw - 1));
  const bool inside_w = left >= 0 && right < w;
  for (std::size_t c = 0; c < im.count; ++c) {
    const S* plane = im.x + (n * im.channels + im.c0 + c) * im.height * im.width;
    for (std::size_t i = 0; i < kh; ++i, dst += kw) {
      const Index r = top + static_cast<Index>(i * g.dilation[0]);
      if (r < 0 || r >= h) {
        for (std::size_t j = 0; j < kw; ++j) dst[j] = T(0);
        continue;
      }
      if (inside_w && g.dilation[1] == 1) {
        const S* src = plane + r * w + left;
        if constexpr (KW != 0 && std::is_same_v<S, T>) {
          std::memcpy(dst, src, KW * sizeof(T));  // a known size: a move or two, inline
        } else {
          for (std::size_t j = 0; j < kw; ++j) dst[j] = static_cast<T>(src[j]);
        }
      } else {
        for (std::size_t j = 0; j < kw; ++j) {
          const Index col = left + static_cast<Index>(j * g.dilation[1]);
          dst[j] = col >= 0 && col < w ? static_cast<T>(plane[r * w + col]) : T(0);
        }
      }
    }
  }
}

// out: (N * Ho * Wo) x (count * kh * kw) values, row-major; x: N x C x H x W, row-major.
template <class T>
void conv_windows(const T* x, std::size_t batch, std::size_t channels, std::size_t height, std::size_t width,
                  const ConvGeometry& g, std::size_t c0, std::size_t count, T* out, int threads) {
  const std::string bad = validate_windows(g, channels, height, width, c0, count);
  if (!bad.empty()) throw std::invalid_argument(bad);
  const ConvImage<T> im{x, batch, channels, height, width, c0, count};
  const std::size_t ho_n = g.out_size(height, 0), wo_n = g.out_size(width, 1);
  const std::size_t row_len = count * g.kernel[0] * g.kernel[1];
  // A task: one output row (n, ho) of wo_n windows.
  with_kernel_width(g.kernel[1], [&](auto kw) {
    parallel_for(batch * ho_n, threads, [&](std::size_t begin, std::size_t end) {
      for (std::size_t task = begin; task < end; ++task)
        for (std::size_t wo = 0; wo < wo_n; ++wo)
          window_row<kw>(im, g, task / ho_n, task % ho_n, wo, out + (task * wo_n + wo) * row_len);
    });
  });
}

}  // namespace mpcore::cpu
