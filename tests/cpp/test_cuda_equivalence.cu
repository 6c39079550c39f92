// CPU and GPU give the same bits: every named format, every rounding mode and order,
// and the ladder's decisions; from host arrays and from strided views of device memory. Exits 77 (CTest: skipped) without a CUDA device.
#include <cstdio>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include <mpcore/cpu/ladder.hpp>
#include <mpcore/names.hpp>
#include <mpcore/cuda/backend.cuh>

#include "check.hpp"

using namespace mpcore;

static bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0 || (a != a && b != b); }

static LadderOptions ladder_options(std::vector<Format> fmts, Activation activation, Estimator est) {
  LadderOptions o;
  o.formats = std::move(fmts);
  o.tau = 0.02;
  o.activation = activation;
  o.estimator = est;
  o.bounds = false;
  return o;
}

// The CPU ladder and gpu_ladder (a CUDA ladder of the same operands, writing `out`) agree on
// every rung, z and kappa.
template <class GpuLadder>
static void same_ladder(const MatrixView<float>& X, const MatrixView<float>& W, const VectorView<float>& B,
                        const LadderOptions& o, const char* what, GpuLadder gpu_ladder) {
  const std::size_t total = X.rows * W.rows;
  std::vector<double> z1(total), y1(total), k1(total), e1(total), z2(total), y2(total), k2(total), e2(total);
  std::vector<std::int32_t> r1(total), r2(total);
  cpu::ladder_linear(X, W, B, o, LadderOutputs{z1.data(), y1.data(), k1.data(), e1.data(), r1.data(), nullptr, nullptr});
  gpu_ladder(LadderOutputs{z2.data(), y2.data(), k2.data(), e2.data(), r2.data(), nullptr, nullptr});
  for (std::size_t e = 0; e < total; ++e)
    CHECK(r1[e] == r2[e] && same_bits(z1[e], z2[e]) && same_bits(k1[e], k2[e]),
          "%s operands, estimator %d: rung, z or kappa of %zu differ", what, int(o.estimator), e);
}

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
    const LadderOptions o = ladder_options({formats::fp8_e4m3, formats::bf16, formats::fp16}, Activation::Tanh, est);
    same_ladder(X, W, B, o, "host", [&](const LadderOutputs& out) { cuda::ladder_linear(X, W, B, o, out); });
  }
  // Resident operands: x stored transposed (column views) and W with a row stride of 2n on
  // the device, b every other element: the bits of the host call.
  {
    std::vector<float> xt(n * batch), w2(out * 2 * n, 7.0f), b2(2 * out, 7.0f);
    for (std::size_t r = 0; r < batch; ++r)
      for (std::size_t j = 0; j < n; ++j) xt[j * batch + r] = x[r * n + j];
    for (std::size_t i = 0; i < out; ++i) {
      for (std::size_t j = 0; j < n; ++j) w2[i * 2 * n + j] = w[i * n + j];
      b2[2 * i] = b[i];
    }
    cuda::DeviceArray<float> dx(xt.data(), xt.size()), dw(w2.data(), w2.size()), db(b2.data(), b2.size());
    const MatrixView<float> Xd{dx.get(), batch, n, 1, static_cast<std::ptrdiff_t>(batch)};
    const MatrixView<float> Wd{dw.get(), out, n, static_cast<std::ptrdiff_t>(2 * n), 1};
    const VectorView<float> Bd{db.get(), out, 2};
    cuda::DeviceArray<double> dy(batch * out);
    for (Rounding m : {Rounding::NearestEven, Rounding::Stochastic}) {
      MatmulOptions o;
      o.acc = formats::bf16;
      o.rounding = m;
      o.seed = 3;
      cpu::matmul(X, W, B, cpu_y.data(), o);
      cuda::matmul(cuda::Resident{}, 0, Xd, Wd, Bd, dy.get(), o);
      dy.download(gpu_y.data());
      for (std::size_t e = 0; e < cpu_y.size(); ++e)
        CHECK(same_bits(cpu_y[e], gpu_y[e]), "resident, mode %d, entry %zu: cpu %.17g gpu %.17g", int(m), e,
              cpu_y[e], gpu_y[e]);
    }
    for (Estimator est : {Estimator::Fp32, Estimator::Norm}) {
      const LadderOptions o = ladder_options({formats::fp8_e4m3, formats::fp16}, Activation::Relu, est);
      same_ladder(X, W, B, o, "resident",
                  [&](const LadderOutputs& out) { cuda::ladder_linear(cuda::Resident{}, 0, Xd, Wd, Bd, o, out); });
    }
  }
  return report("test_cuda_equivalence");
}
