// Which instruction set each kernel family runs on. Forced ($MPCORE_SIMD, set_isa): that
// one. Auto: at a family's first use, every instruction set this CPU has runs the family's
// kernel on a small representative panel, and the fastest is kept for the process, so a
// CPU on which a wider copy is slower (or an untuned one) never runs it. Families: the
// container (binary64 / binary32 lanes) x the order (sequential / pairwise) x the rounding
// class (nearest even / another deterministic mode / stochastic).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "../../numerics/accumulator.hpp"
#include "../../numerics/format.hpp"
#include "../../numerics/rounding.hpp"
#include "dispatch.hpp"
#include "isa.hpp"

namespace mpcore::cpu::simd {

enum class Container { Binary64, Binary32 };

inline constexpr int kIsas = 3, kRoundingClasses = 3, kFamilies = 2 * 2 * kRoundingClasses;

inline int rounding_class(Rounding mode) {
  return mode == Rounding::NearestEven ? 0 : mode == Rounding::Stochastic ? 2 : 1;
}
inline int family_index(Container c, bool pairwise, Rounding mode) {
  return ((c == Container::Binary32 ? 2 : 0) + (pairwise ? 1 : 0)) * kRoundingClasses + rounding_class(mode);
}
inline std::string family_name(int f) {
  static const char* classes[kRoundingClasses] = {"rne", "directed", "sr"};
  return std::string(f / (2 * kRoundingClasses) ? "lanes32" : "lanes") + ((f / kRoundingClasses) % 2 ? " pairwise " : " sequential ") +
         classes[f % kRoundingClasses];
}

struct FamilyTiming {
  std::once_flag once;
  std::atomic<bool> timed{false};
  std::atomic<int> chosen{0};
  double rate[kIsas] = {};  // terms per second per instruction set (0: not available)
};

inline FamilyTiming& family_timing(int f) {
  static FamilyTiming table[kFamilies];
  return table[f];
}

// Runs family f's kernel once on instruction set `isa` as the matmul runs it: kWidth lanes
// of n terms (two rows of x for the binary32 lanes, which take rows in pairs),
// bf16 accumulation, inputs whose products are exact in binary32 (so both containers take
// them). out: 2 * kWidth values.
inline void run_family(int f, Isa isa, std::size_t n, const float* x, const float* panel, double* out) {
  static const Rounding representative[kRoundingClasses] = {Rounding::NearestEven, Rounding::TowardZero,
                                                            Rounding::Stochastic};
  const Rounding mode = representative[f % kRoundingClasses];
  const bool binary32 = f / (2 * kRoundingClasses) != 0, pairwise = (f / kRoundingClasses) % 2 != 0;
  const Accumulation A = make_accumulation(formats::bf16, mode, pairwise ? Order::Pairwise : Order::Sequential, 32,
                                           formats::fp32, 1, kMaxStochasticBits);
  std::uint64_t index[2 * kWidth];
  for (std::size_t l = 0; l < 2 * kWidth; ++l) index[l] = l;
  const float* rows[2] = {x, x + n};
  with_any_rounding(mode, [&](auto m) {
    constexpr Rounding M = decltype(m)::value;
    with_target(isa, [&](auto t) {
      using T = decltype(t);
      if constexpr (M != Rounding::Downward) {
        if (binary32 && pairwise) return T::template pairwise32<M, 2>(rows, panel, n, A, index, out);
        if (binary32) return T::template sequential32<M, 2>(rows, panel, n, A.acc, A.seed, index, out, 0);
      }
      if (pairwise) return T::template pairwise64<M, float>(x, panel, n, A, index, out);
      T::template sequential64<M, float>(x, panel, n, A.acc, A.seed, index, out, 0);
    });
  });
}

inline void time_family(int f, FamilyTiming& timing) {
  using clock = std::chrono::steady_clock;
  constexpr std::size_t n = 1024;
  std::vector<float> x(2 * n), panel(n * kWidth);
  for (std::size_t j = 0; j < 2 * n; ++j) x[j] = static_cast<float>(static_cast<int>(j % 7) + 1) / 8.0f;
  for (std::size_t j = 0; j < n; ++j) {
    for (std::size_t l = 0; l < kWidth; ++l)
      panel[j * kWidth + l] = static_cast<float>(static_cast<int>((j * 31 + l * 17) % 13) - 6) / 16.0f;
  }
  double out[2 * kWidth];
  int best = 0;
  for (int i = 0; i <= static_cast<int>(isa_setting().isa); ++i) {
    const Isa isa = static_cast<Isa>(i);
    run_family(f, isa, n, x.data(), panel.data(), out);  // warm the code and the caches
    double seconds = 1e300;
    for (int rep = 0; rep < 5; ++rep) {
      const auto t0 = clock::now();
      run_family(f, isa, n, x.data(), panel.data(), out);
      seconds = std::min(seconds, std::chrono::duration<double>(clock::now() - t0).count());
    }
    const std::size_t rows_run = f / (2 * kRoundingClasses) != 0 ? 2 : 1;  // binary32 families run two rows
    timing.rate[i] = static_cast<double>(rows_run * n * kWidth) / std::max(seconds, 1e-9);
    if (timing.rate[i] > timing.rate[best]) best = i;
  }
  timing.chosen.store(best);
  timing.timed.store(true);
}

// The instruction set family (c, pairwise, mode) runs on now.
inline Isa family_isa(Container c, bool pairwise, Rounding mode) {
  const IsaSetting s = isa_setting();
  if (s.forced) return s.isa;
  const int f = family_index(c, pairwise, mode);
  FamilyTiming& timing = family_timing(f);
  std::call_once(timing.once, [&] { time_family(f, timing); });
  return static_cast<Isa>(timing.chosen.load());
}

// What auto measured so far: the families timed, each with its rates and choice.
struct FamilyReport {
  std::string family;
  Isa chosen;
  double rate[kIsas];
};

inline std::vector<FamilyReport> family_reports() {
  std::vector<FamilyReport> reports;
  for (int f = 0; f < kFamilies; ++f) {
    const FamilyTiming& t = family_timing(f);
    if (!t.timed.load()) continue;
    FamilyReport r{family_name(f), static_cast<Isa>(t.chosen.load()), {}};
    std::copy(t.rate, t.rate + kIsas, r.rate);
    reports.push_back(r);
  }
  return reports;
}

}  // namespace mpcore::cpu::simd
