// Accumulate one dot product in every named format and print the errors.
#include <cmath>
#include <cstdint>
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

  // The selective layer: 16 outputs of a ReLU layer in fp8_e4m3, recomputed in fp16 where
  // the estimated relative error exceeds tau.
  const std::size_t outputs = 16;
  std::vector<float> weights(outputs * n);
  for (auto& v : weights) v = normal(gen) / 28.0f;
  mpcore::LadderOptions lo;
  lo.formats = {mpcore::formats::fp8_e4m3, mpcore::formats::fp16};
  lo.tau = 0.1;
  lo.activation = mpcore::Activation::Relu;
  std::vector<double> z(outputs), y(outputs), kappa(outputs), err(outputs), bound(outputs), bound_prob(outputs);
  std::vector<std::int32_t> rung(outputs);
  const mpcore::LadderStats stats = mpcore::cpu::ladder_linear(
      mpcore::row_major(x.data(), 1, n), mpcore::row_major(weights.data(), outputs, n), mpcore::VectorView<float>{},
      lo, mpcore::LadderOutputs{z.data(), y.data(), kappa.data(), err.data(), rung.data(), bound.data(),
                                bound_prob.data()});
  std::printf("selective fp8_e4m3/fp16, tau 0.1: %zu of %zu outputs recomputed\n", stats.count[1], outputs);
  return std::isfinite(reference) ? 0 : 1;
}
