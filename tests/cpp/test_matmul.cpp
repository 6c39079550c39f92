// Kernel paths agree bit for bit; results do not depend on the thread count.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "check.hpp"
#include <mpcore/mpcore.hpp>

using namespace mpcore;

static bool same_bits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b));
}

template <class T>
static void paths_agree(const Format& acc, Rounding mode, std::size_t batch, std::size_t in, std::size_t out,
                        Order order = Order::Sequential, int sr_bits = kMaxStochasticBits, bool bias = true,
                        bool stored = false) {
  std::mt19937_64 gen(batch * 131 + in * 7 + out);
  std::normal_distribution<double> N(0.0, 1.0);
  std::vector<T> x(batch * in), w(out * in), b(out);
  for (auto& v : x) v = static_cast<T>(N(gen));
  for (auto& v : w) v = static_cast<T>(N(gen) * 0.1);
  for (auto& v : b) v = static_cast<T>(N(gen));
  if (stored) {  // operands in the accumulation format: binary32 lanes, several rows at once
    const Rounder to_format = make_rounder(acc, Rounding::NearestEven);
    for (auto* a : {&x, &w, &b})
      for (auto& v : *a) v = static_cast<T>(round_value(static_cast<double>(v), to_format, 0));
  }
  MatmulOptions o;
  o.acc = acc;
  o.rounding = mode;
  o.seed = 42;
  o.order = order;
  o.block = 8;  // blocked order: several blocks and a partial last one
  o.sr_bits = sr_bits;
  std::vector<double> lanes(batch * out), generic(batch * out), threaded(batch * out);
  const VectorView<T> bv{bias ? b.data() : nullptr, bias ? out : 0, 1};
  const cpu::Path natural = cpu::choose_path<T>(o), sim = cpu::Path::Lanes, gen_path = cpu::Path::Generic;
  o.threads = 1;
  cpu::matmul(row_major(x.data(), batch, in), row_major(w.data(), out, in), bv, lanes.data(), o, &natural);
  cpu::matmul(row_major(x.data(), batch, in), row_major(w.data(), out, in), bv, generic.data(), o, &gen_path);
  o.threads = 3;
  // x with its rows apart (a view into a wider array): copied, where the calls above read it in place.
  const std::size_t pitch = in + 3;
  std::vector<T> wide(batch * pitch, T(-1));
  for (std::size_t r = 0; r < batch; ++r)
    std::copy(x.begin() + r * in, x.begin() + (r + 1) * in, wide.begin() + r * pitch);
  const MatrixView<T> x_view{wide.data(), batch, in, static_cast<std::ptrdiff_t>(pitch), 1};
  cpu::matmul(x_view, row_major(w.data(), out, in), bv, threaded.data(), o, &sim);
  for (std::size_t k = 0; k < lanes.size(); ++k) {
    CHECK(same_bits(lanes[k], generic[k]), "p=%d mode %d order %d k=%zu natural %.17g generic %.17g", acc.precision,
          int(mode), int(order), k, lanes[k], generic[k]);
    CHECK(same_bits(threaded[k], generic[k]), "p=%d mode %d k=%zu threaded %.17g generic %.17g", acc.precision,
          int(mode), k, threaded[k], generic[k]);
  }
  // The dot entry point is the generic path for output 0.
  if (mode == Rounding::NearestEven && order == Order::Sequential) {
    MatmulOptions d;
    d.acc = acc;
    const double v = dot(w.data(), x.data(), in, d, bias ? b.data() : nullptr);
    CHECK(same_bits(v, generic[0]), "dot %.17g generic %.17g", v, generic[0]);
  }
}

int main() {
  for (const auto& nf : formats::all)
    for (Rounding m : kRoundingValues) {
      paths_agree<float>(nf.format, m, 5, 37, 19);
      paths_agree<double>(nf.format, m, 3, 64, 9);
      paths_agree<float>(nf.format, m, 5, 37, 19, Order::Pairwise);
      paths_agree<double>(nf.format, m, 3, 64, 9, Order::Pairwise);
      paths_agree<float>(nf.format, m, 5, 37, 19, Order::Blocked);
      paths_agree<double>(nf.format, m, 3, 64, 9, Order::Blocked);
    }
  // Without a bias (whose rounding could hide a last-bit difference in the sum), and with
  // a last panel of 1 to 16 outputs (the half-width kernels) after whole ones.
  for (const auto& nf : formats::all)
    for (Rounding m : kRoundingValues)
      for (std::size_t out : {7, 16, 40}) {
        paths_agree<float>(nf.format, m, 3, 45, out, Order::Sequential, kMaxStochasticBits, false);
        paths_agree<double>(nf.format, m, 2, 45, out, Order::Sequential, kMaxStochasticBits, false);
      }
  // Operands stored in the format (binary32 lanes, rows four and two at a time), with a bias;
  // pairwise trees of odd and even sizes (pairs of leaves, and a last leaf alone).
  for (const auto& nf : formats::all)
    for (Rounding m : kRoundingValues)
      for (Order order : {Order::Sequential, Order::Pairwise})
        for (std::size_t n : {45, 46, 2})
          paths_agree<float>(nf.format, m, 7, n, 40, order, kMaxStochasticBits, true, true);
  // Stochastic rounding with fewer random bits than, as many as, and more than the
  // remainder has (then the rest come from lo).
  for (const auto& nf : formats::all)
    for (int bits : {1, 7, 29, 45})
      for (Order order : {Order::Sequential, Order::Pairwise, Order::Blocked}) {
        paths_agree<float>(nf.format, Rounding::Stochastic, 4, 53, 33, order, bits);
        paths_agree<double>(nf.format, Rounding::Stochastic, 2, 40, 33, order, bits);
      }
  // Wide custom formats: a remainder of 1 to 5 bits, so lo's bits decide most roundings.
  for (int p : {48, 50, 52}) {
    const Format wide{p, -1022, 1023, true, (2.0 - std::ldexp(1.0, 1 - p)) * std::ldexp(1.0, 1023), Overflow::Inf, 64};
    for (int bits : {2, 3, 30, 32})
      for (Order order : {Order::Sequential, Order::Pairwise}) {
        paths_agree<float>(wide, Rounding::Stochastic, 4, 53, 33, order, bits);
        paths_agree<double>(wide, Rounding::Stochastic, 2, 40, 33, order, bits);
      }
  }
  // The simplest entry point.
  const float w[] = {1.0f, 1.0f, 1.0f}, x[] = {1.0f, 1.0f / 4096, 1.0f / 4096};
  CHECK(dot(w, x, 3, formats::fp16) == 1.0, "fp16 stagnation expected");
  CHECK(dot(w, x, 3, formats::fp32) == 1.0 + 2.0 / 4096, "fp32 exact");
  // Stochastic rounding is unbiased: mean of many roundings of 1 + u/4 in fp16.
  {
    const Rounder R = make_rounder(formats::fp16, Rounding::Stochastic);
    const double v = 1.0 + std::ldexp(1.0, -12);  // a quarter of the way to the next fp16 (spacing 2^-10)
    double up = 0;
    const int trials = 200000;
    for (int i = 0; i < trials; ++i) up += round_value(v, R, stream_bits(stream_key(1, i), 0)) > 1.0;
    const double p = up / trials;
    CHECK(std::fabs(p - 0.25) < 5 * std::sqrt(0.25 * 0.75 / trials), "P(up) = %g, want 0.25", p);
  }
  return report("test_matmul");
}
