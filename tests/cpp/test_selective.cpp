// The ladder layer in C++: rung values equal uniform matmuls, tau = 0 is uniform high.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "check.hpp"
#include <mpcore/mpcore.hpp>

using namespace mpcore;

int main() {
  const std::size_t batch = 4, n = 50, out = 30;
  std::mt19937 gen(3);
  std::normal_distribution<float> N(0.0f, 1.0f);
  std::vector<float> x(batch * n), w(out * n), b(out);
  for (auto& v : x) v = std::fabs(N(gen));
  for (auto& v : w) v = N(gen) / 7.0f;
  for (auto& v : b) v = N(gen) / 10.0f;
  const auto X = row_major(x.data(), batch, n), W = row_major(w.data(), out, n);
  const VectorView<float> B{b.data(), out, 1};

  const std::vector<Format> fmts = {formats::fp8_e4m3, formats::bf16, formats::fp32};
  std::vector<std::vector<double>> uniform(fmts.size(), std::vector<double>(batch * out));
  for (std::size_t k = 0; k < fmts.size(); ++k) {
    MatmulOptions o;
    o.acc = fmts[k];
    cpu::matmul(X, W, B, uniform[k].data(), o);
  }
  for (double tau : {0.0, 1e-3, 0.05, HUGE_VAL}) {
    for (Activation act : {Activation::Relu, Activation::Tanh, Activation::Identity}) {
      LadderOptions o;
      o.formats = fmts;
      o.tau = tau;
      o.activation = act;
      std::vector<double> z(batch * out), y(z.size()), kappa(z.size()), err(z.size()), bound(z.size()),
          bound_prob(z.size());
      std::vector<std::int32_t> rung(z.size());
      const LadderStats st = cpu::ladder_linear(
          X, W, B, o, LadderOutputs{z.data(), y.data(), kappa.data(), err.data(), rung.data(), bound.data(),
                                    bound_prob.data()});
      std::vector<std::size_t> per_rung(fmts.size(), 0);
      for (std::int32_t k : rung) ++per_rung[k];
      CHECK(st.count == per_rung, "the count of every rung (tau %g)", tau);
      for (std::size_t e = 0; e < z.size(); ++e) {
        CHECK(z[e] == uniform[rung[e]][e], "tau %g component %zu rung %d", tau, e, rung[e]);
        CHECK(y[e] == activate(act, z[e]), "y = phi(z)");
        if (tau == 0) CHECK(rung[e] == 2, "tau = 0 recomputes everything");
        if (act == Activation::Relu && tau > 0 && uniform[0][e] < 0) CHECK(rung[e] == 0, "relu negative kept");
      }
    }
  }
  // Bad options are rejected.
  LadderOptions bad;
  bad.formats = {formats::fp16, formats::fp8_e4m3};
  CHECK(!validate_ladder(bad).empty(), "ladder must go from least to most precise");
  bad.formats = {formats::fp8_e4m3, formats::fp16};
  bad.tau = std::nan("");
  CHECK(!validate_ladder(bad).empty(), "tau NaN rejected");
  return report("test_selective");
}
