// conv_matmul against its definition: matmul(conv_windows(x), W_g, b_g) with the same
// options, row n * P + p to y[n, o0 + i, p], converted to the output type — bit for bit, for
// geometries with padding, stride and dilation, groups (channel ranges in and out), binary32
// lanes (values of the format) and binary64 ones, every order, nearest-even and stochastic
// rounding, prepared and unprepared W, one and three threads. Channels of y outside the
// group must stay untouched.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <mpcore/mpcore.hpp>

#include "check.hpp"

using namespace mpcore;
using mpcore::cpu::ConvGeometry;

template <class T>
static bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

template <class S, class Out>
static void check_conv(const ConvGeometry& g, bool stored, Rounding mode, Order order, int threads, bool prepared,
                       std::size_t c = 4, std::size_t h = 7, std::size_t w = 6) {
  const std::size_t n = 3, groups = 2, per_c = c / groups, per_out = 5, y_channels = 12,
                    o_first = 1;  // y's channels [1, 11) are the groups'; 0 and 11 must stay as they are
  const Format acc = formats::fp16;
  std::mt19937_64 gen(static_cast<std::uint64_t>(g.kernel[0] * 97 + g.stride[1] * 13 + g.padding[0] * 5 + threads));
  std::normal_distribution<double> N(0.0, 1.0);
  const Rounder to_format = make_rounder(acc, Rounding::NearestEven);
  auto value = [&](double scale) {
    const double v = N(gen) * scale;
    return static_cast<S>(stored ? round_value(v, to_format, 0) : v);
  };
  std::vector<S> x(n * c * h * w);
  for (auto& v : x) v = value(1.0);
  const std::size_t cols = per_c * g.kernel[0] * g.kernel[1];
  MatmulOptions o;
  o.acc = acc;
  o.rounding = mode;
  o.order = order;
  o.block = 4;
  o.seed = 7;
  o.threads = threads;
  const std::size_t ho = g.out_size(h, 0), wo = g.out_size(w, 1), positions = ho * wo;
  std::vector<Out> y(n * y_channels * positions, Out(-7.25));
  long bad = 0;
  for (std::size_t k = 0; k < groups; ++k) {
    std::vector<S> wk(per_out * cols), bk(per_out);
    for (auto& v : wk) v = value(0.3);
    for (auto& v : bk) v = value(1.0);
    const cpu::StoredMatrix ws = cpu::stored(row_major(wk.data(), per_out, cols));
    const cpu::StoredMatrix bs = cpu::stored(VectorView<S>{bk.data(), per_out, 1});
    const cpu::PreparedLinear layer =
        prepared ? cpu::PreparedLinear::prepare(ws, bs, threads) : cpu::PreparedLinear::view(ws, bs);
    // The definition: the windows as a matrix, one matmul.
    std::vector<S> windows(n * positions * cols);
    cpu::conv_windows(x.data(), n, c, h, w, g, k * per_c, per_c, windows.data(), 1);
    std::vector<double> want(n * positions * per_out);
    cpu::matmul(cpu::stored(row_major(windows.data(), n * positions, cols)), ws, bs, want.data(), o);
    const std::size_t o0 = o_first + k * per_out;
    cpu::conv_matmul(x.data(), n, c, h, w, g, k * per_c, per_c, layer, o, y.data(), y_channels, o0);
    for (std::size_t s = 0; s < n; ++s)
      for (std::size_t i = 0; i < per_out; ++i)
        for (std::size_t p = 0; p < positions; ++p)
          bad += !same_bits(y[(s * y_channels + o0 + i) * positions + p],
                            static_cast<Out>(want[(s * positions + p) * per_out + i]));
  }
  for (std::size_t s = 0; s < n; ++s)
    for (std::size_t ch : {std::size_t{0}, y_channels - 1})
      for (std::size_t p = 0; p < positions; ++p) bad += !same_bits(y[(s * y_channels + ch) * positions + p], Out(-7.25));
  CHECK(bad == 0, "%ld outputs differ (kernel %zux%zu stride %zu padding %zu dilation %zu, stored %d, mode %d, "
        "order %d, %d threads, prepared %d, S %zu bytes, Out %zu bytes)", bad, g.kernel[0], g.kernel[1], g.stride[0],
        g.padding[0], g.dilation[0], int(stored), int(mode), int(order), threads, int(prepared), sizeof(S),
        sizeof(Out));
}

int main() {
  for (std::size_t kernel : {1, 3})
    for (std::size_t stride : {1, 2})
      for (std::size_t pad : {0, 2})
        for (std::size_t dil : {1, 2}) {
          ConvGeometry g;
          g.kernel[0] = kernel, g.kernel[1] = kernel == 1 ? 2 : kernel;
          g.stride[0] = stride, g.stride[1] = 3 - stride;
          g.padding[0] = pad, g.padding[1] = pad / 2;
          g.dilation[0] = dil, g.dilation[1] = 1;
          if (!cpu::validate_windows(g, 4, 7, 6, 0, 2).empty()) continue;
          for (Rounding mode : {Rounding::NearestEven, Rounding::Stochastic})
            for (Order order : {Order::Sequential, Order::Pairwise, Order::Blocked})
              for (int threads : {1, 3}) {
                const bool prepared = threads == 3;
                check_conv<float, float>(g, true, mode, order, threads, prepared);    // binary32 lanes
                check_conv<float, float>(g, false, mode, order, threads, !prepared);  // binary64 lanes
                check_conv<double, double>(g, true, mode, order, threads, prepared);
                check_conv<float, double>(g, true, mode, order, threads, prepared);
              }
        }
  // Windows of 1,152 values: blocks of fewer rows (56 in binary32, 28 in binary64) than the
  // 147 rows of a group.
  ConvGeometry wide;
  wide.kernel[0] = wide.kernel[1] = 3;
  for (int threads : {1, 3}) {
    check_conv<float, float>(wide, true, Rounding::Stochastic, Order::Sequential, threads, true, 256, 9, 9);
    check_conv<double, double>(wide, false, Rounding::NearestEven, Order::Pairwise, threads, false, 256, 9, 9);
  }
  // Errors: a bad geometry, W of the wrong width, output channels past y's.
  ConvGeometry g;
  g.kernel[0] = g.kernel[1] = 3;
  std::vector<float> x(2 * 5 * 5), wv(4 * 18), y(4 * 9, 0.0f);
  const cpu::PreparedLinear layer = cpu::PreparedLinear::view(cpu::stored(row_major(wv.data(), 4, 18)), {});
  MatmulOptions o;
  auto throws = [&](auto f) {
    try {
      f();
    } catch (const std::invalid_argument&) {
      return true;
    }
    return false;
  };
  CHECK(!throws([&] { cpu::conv_matmul(x.data(), 1, 2, 5, 5, g, 0, 2, layer, o, y.data(), 4, 0); }), "a valid call");
  CHECK(throws([&] { cpu::conv_matmul(x.data(), 1, 2, 5, 5, g, 0, 1, layer, o, y.data(), 4, 0); }),
        "W wider than a window rejected");
  CHECK(throws([&] { cpu::conv_matmul(x.data(), 1, 2, 5, 5, g, 1, 2, layer, o, y.data(), 4, 0); }),
        "channels past C rejected");
  CHECK(throws([&] { cpu::conv_matmul(x.data(), 1, 2, 5, 5, g, 0, 2, layer, o, y.data(), 4, 1); }),
        "output channels past y's rejected");
  return report("test_conv");
}
