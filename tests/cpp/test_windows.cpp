// conv_windows against its definition (windows.hpp), value by value: every geometry of a
// small grid (kernel, stride, padding, dilation, both dimensions apart), channel ranges,
// one and three threads; and its errors. Under the sanitizers (CI) this also checks that
// no window reads outside x.
#include <cstring>
#include <random>
#include <vector>

#include <mpcore/mpcore.hpp>

#include "check.hpp"

using mpcore::cpu::ConvGeometry;

template <class T>
static void check_geometry(const std::vector<T>& x, std::size_t n, std::size_t c, std::size_t h, std::size_t w,
                           const ConvGeometry& g, std::size_t c0, std::size_t count, int threads) {
  const std::size_t ho = g.out_size(h, 0), wo = g.out_size(w, 1), kh = g.kernel[0], kw = g.kernel[1];
  const std::size_t cols = count * kh * kw;
  std::vector<T> out(n * ho * wo * cols, T(-9));
  mpcore::cpu::conv_windows(x.data(), n, c, h, w, g, c0, count, out.data(), threads);
  long bad = 0;
  for (std::size_t b = 0; b < n; ++b)
    for (std::size_t p = 0; p < ho; ++p)
      for (std::size_t q = 0; q < wo; ++q)
        for (std::size_t ch = 0; ch < count; ++ch)
          for (std::size_t i = 0; i < kh; ++i)
            for (std::size_t j = 0; j < kw; ++j) {
              const long r = static_cast<long>(p * g.stride[0] + i * g.dilation[0]) - static_cast<long>(g.padding[0]);
              const long s = static_cast<long>(q * g.stride[1] + j * g.dilation[1]) - static_cast<long>(g.padding[1]);
              const bool inside = r >= 0 && r < static_cast<long>(h) && s >= 0 && s < static_cast<long>(w);
              const T want = inside ? x[((b * c + c0 + ch) * h + r) * w + s] : T(0);
              const T got = out[((b * ho + p) * wo + q) * cols + (ch * kh + i) * kw + j];
              bad += std::memcmp(&got, &want, sizeof(T)) != 0;
            }
  CHECK(bad == 0, "%ld of %zu values wrong (kernel %zux%zu stride %zux%zu padding %zux%zu dilation %zux%zu, c0 %zu "
        "count %zu, %d threads)", bad, out.size(), kh, kw, g.stride[0], g.stride[1], g.padding[0], g.padding[1],
        g.dilation[0], g.dilation[1], c0, count, threads);
}

template <class T>
static void check_all() {
  const std::size_t n = 2, c = 3, h = 6, w = 7;
  std::mt19937 gen(5);
  std::normal_distribution<double> N(0.0, 1.0);
  std::vector<T> x(n * c * h * w);
  for (auto& v : x) v = static_cast<T>(N(gen));
  for (std::size_t kh : {1, 2, 3})
    for (std::size_t kw : {1, 3, 4, 5, 8})  // 8: a width the windows do not know when compiled
      for (std::size_t stride : {1, 2})
        for (std::size_t pad : {0, 1, 3})
          for (std::size_t dil : {1, 2}) {
            ConvGeometry g;
            g.kernel[0] = kh, g.kernel[1] = kw;
            g.stride[0] = stride, g.stride[1] = 3 - stride;  // the two dimensions differ
            g.padding[0] = pad, g.padding[1] = pad == 3 ? 0 : pad + 1;
            g.dilation[0] = dil, g.dilation[1] = 3 - dil;
            if (!mpcore::cpu::validate_windows(g, c, h, w, 0, c).empty()) continue;  // does not fit
            check_geometry(x, n, c, h, w, g, 0, c, 1);
            check_geometry(x, n, c, h, w, g, 1, 2, 3);
          }
}

int main() {
  check_all<float>();
  check_all<double>();
  ConvGeometry g;
  g.kernel[0] = g.kernel[1] = 3;
  CHECK(mpcore::cpu::validate_windows(g, 2, 5, 5, 0, 2).empty(), "a 3x3 kernel fits 5x5");
  CHECK(!mpcore::cpu::validate_windows(g, 2, 5, 5, 1, 2).empty(), "channels past C rejected");
  CHECK(!mpcore::cpu::validate_windows(g, 2, 2, 5, 0, 2).empty(), "a kernel taller than the input rejected");
  g.padding[0] = std::size_t{1} << 31;
  CHECK(!mpcore::cpu::validate_windows(g, 2, 5, 5, 0, 2).empty(), "padding of 2^31 rejected");
  g.padding[0] = 0;
  g.stride[1] = 0;
  CHECK(!mpcore::cpu::validate_windows(g, 2, 5, 5, 0, 2).empty(), "stride 0 rejected");
  bool threw = false;
  try {
    std::vector<float> x(50), out(1000);
    mpcore::cpu::conv_windows(x.data(), 1, 2, 5, 5, g, 0, 2, out.data(), 1);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw, "conv_windows throws on a bad geometry");
  return report("test_windows");
}
