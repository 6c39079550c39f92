// Accumulate one dot product in every named format and print the errors.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include <mpcore/mpcore.hpp>

int main() {
  const std::size_t n = 784;
  std::mt19937 gen(0);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w(n), x(n);
  for (auto& v : w) v = normal(gen) / 28.0f;
  for (auto& v : x) v = std::fmax(normal(gen), 0.0f);

  const double reference = mpcore::dot(w.data(), x.data(), n, mpcore::formats::fp64);
  std::printf("%-10s %16s %12s\n", "format", "value", "rel. error");
  for (const auto& f : mpcore::formats::all) {
    const double v = mpcore::dot(w.data(), x.data(), n, f.format);
    std::printf("%-10s %16.10g %12.3e\n", f.name, v, std::fabs(v - reference) / std::fabs(reference));
  }

  // Options: stochastic rounding into bf16 with a bias, reproducible by seed.
  mpcore::MatmulOptions o;
  o.acc = mpcore::formats::bf16;
  o.rounding = mpcore::Rounding::Stochastic;
  o.seed = 42;
  const float bias = 0.5f;
  std::printf("bf16, stochastic, with bias: %.10g\n", mpcore::dot(w.data(), x.data(), n, o, &bias));
  return std::isfinite(reference) ? 0 : 1;
}
