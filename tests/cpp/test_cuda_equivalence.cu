// CPU and GPU give the same bits: every named format, every rounding mode and order,
// and the ladder's decisions. Exits 77 (CTest: skipped) without a CUDA device.
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include <mpcore/cpu/ladder.hpp>
#include <mpcore/names.hpp>
#include <mpcore/cuda/backend.cuh>

#include "check.hpp"

using namespace mpcore;

static bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0 || (a != a && b != b); }

int main() {
  if (cuda::device_count() == 0) {
    std::printf("test_cuda_equivalence: no CUDA device, skipped\n");
    return 77;
  }
  const std::size_t batch = 7, n = 301, out = 45;
  std::mt19937 gen(5);
  std::normal_distribution<float> N(0.0f, 1.0f);
  std::vector<float> x(batch * n), w(out * n), b(out);
  for (auto& v : x) v = N(gen);
  for (auto& v : w) v = N(gen) / 17.0f;
  for (auto& v : b) v = N(gen);
  const auto X = row_major(x.data(), batch, n), W = row_major(w.data(), out, n);
  const VectorView<float> B{b.data(), out, 1};
  const Order orders[] = {Order::Sequential, Order::Pairwise, Order::Blocked};
  std::vector<double> cpu_y(batch * out), gpu_y(batch * out);
  for (const auto& f : formats::all)
    for (Rounding m : kRoundingValues)
      for (Order ord : orders) {
        MatmulOptions o;
        o.acc = f.format;
        o.rounding = m;
        o.order = ord;
        o.block = 16;
        o.seed = 99;
        cpu::matmul(X, W, B, cpu_y.data(), o);
        cuda::matmul(X, W, B, gpu_y.data(), o);
        for (std::size_t e = 0; e < cpu_y.size(); ++e)
          CHECK(same_bits(cpu_y[e], gpu_y[e]), "%s mode %d order %d entry %zu: cpu %.17g gpu %.17g", f.name,
                int(m), int(ord), e, cpu_y[e], gpu_y[e]);
      }
  for (Estimator est : {Estimator::Fp32, Estimator::Low, Estimator::Norm}) {
    LadderOptions o;
    o.formats = {formats::fp8_e4m3, formats::bf16, formats::fp16};
    o.tau = 0.02;
    o.activation = Activation::Tanh;
    o.estimator = est;
    o.bounds = false;
    const std::size_t total = batch * out;
    std::vector<double> z1(total), y1(total), k1(total), e1(total), z2(total), y2(total), k2(total), e2(total);
    std::vector<std::int32_t> r1(total), r2(total);
    cpu::ladder_linear(X, W, B, o, LadderOutputs{z1.data(), y1.data(), k1.data(), e1.data(), r1.data(), nullptr, nullptr});
    cuda::ladder_linear(X, W, B, o, LadderOutputs{z2.data(), y2.data(), k2.data(), e2.data(), r2.data(), nullptr, nullptr});
    for (std::size_t e = 0; e < total; ++e) {
      CHECK(r1[e] == r2[e], "estimator %d: rung of %zu differs", int(est), e);
      CHECK(same_bits(z1[e], z2[e]) && same_bits(k1[e], k2[e]), "estimator %d: z/kappa of %zu differ", int(est), e);
    }
  }
  return report("test_cuda_equivalence");
}
