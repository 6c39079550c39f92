// Exhaustive checks of mpcore's rounding against the brute-force reference.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "check.hpp"
#include "reference.hpp"
#include <mpcore/names.hpp>

using mpcore::Rounding;

static bool same(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b && std::signbit(a) == std::signbit(b);
}

// Every mode but stochastic rounding (checked statistically and against lanes elsewhere).
static std::vector<Rounding> deterministic_modes() {
  std::vector<Rounding> modes;
  for (Rounding m : mpcore::kRoundingValues)
    if (m != Rounding::Stochastic) modes.push_back(m);
  return modes;
}
static const std::vector<Rounding> kModes = deterministic_modes();

// Every value (and both signs) of `from` rounded to every narrower named format.
static void narrowing(const char* from_name, const mpcore::Format& from) {
  const auto src = ref::values(from);
  for (const auto& to : mpcore::formats::all) {
    if (to.format.precision > from.precision && to.format.emax >= from.emax) continue;
    const auto grid = ref::values(to.format);
    if (grid.size() > 70000) continue;
    for (Rounding mode : kModes) {
      const auto R = mpcore::make_rounder(to.format, mode);
      for (double a : src)
        for (double x : {a, -a}) {
          const double got = mpcore::round_value(x, R), want = ref::round(x, to.format, mode, grid);
          CHECK(same(got, want), "%s -> %s mode %d x=%.17g got %.17g want %.17g", from_name, to.name,
                int(mode), x, got, want);
        }
    }
  }
}

// Every pair of values of an 8-bit format added once in that format.
static void all_pairs(const char* name, const mpcore::Format& f) {
  const auto v = ref::values(f);
  std::vector<double> all;
  for (double a : v) { all.push_back(a); all.push_back(-a); }
  for (Rounding mode : kModes) {
    const auto R = mpcore::make_rounder(f, mode);
    for (double a : all)
      for (double b : all) {
        const double got = mpcore::add_rounded(a, b, R, 0);
        double want = ref::round(a + b, f, mode, v);  // a + b is exact in binary64
        if (a + b == 0 && want == 0) {
          // IEEE sign of an exact zero sum.
          const bool neg = (std::signbit(a) && std::signbit(b)) ||
                           (mode == Rounding::Downward && std::signbit(a) != std::signbit(b));
          want = neg ? -0.0 : 0.0;
        }
        CHECK(same(got, want), "%s mode %d: %g + %g got %.17g want %.17g", name, int(mode), a, b, got, want);
      }
  }
}

// Sums whose exact value is not a binary64 number (lo != 0) near ties and boundaries.
// Reference: the brute-force grid. The exact value base + tiny lies strictly between base
// and its binary64 neighbour toward tiny, and no grid point or midpoint of a format of at
// most 22 bits lies strictly between those two binary64 numbers, so the correct rounding of
// the exact sum equals the brute-force rounding of that neighbour (which is exact).
static void sticky_cases() {
  std::mt19937_64 gen(7);
  std::size_t checked = 0;
  for (const auto& nf : mpcore::formats::all) {
    const auto& f = nf.format;
    if (f.precision > 22) continue;
    const auto grid = ref::values(f);
    if (grid.size() > 300000) continue;
    for (Rounding mode : kModes) {
      const auto R = mpcore::make_rounder(f, mode);
      for (int t = 0; t < 2000; ++t) {
        // A grid point or midpoint of f, plus or minus a tiny amount far below binary64's ulp.
        const int e = f.emin + static_cast<int>(gen() % (f.emax - f.emin + 1));
        const double base = std::ldexp(static_cast<double>((gen() % (1u << f.precision)) | (1u << (f.precision - 1))) +
                                           0.5 * static_cast<double>(gen() % 2),
                                       e - f.precision + 1) * ((gen() & 1) ? 1 : -1);
        const double tiny = std::ldexp(1.0, e - 80) * ((gen() & 1) ? 1 : -1);
        const double got = mpcore::add_rounded(base, tiny, R, 0);
        const double neighbour = std::nextafter(base, tiny > 0 ? HUGE_VAL : -HUGE_VAL);
        const double want = ref::round(neighbour, f, mode, grid);
        CHECK(same(got, want), "%s mode %d base %.17g tiny %g: got %.17g want %.17g", nf.name, int(mode), base,
              tiny, got, want);
        ++checked;
      }
    }
  }
  CHECK(checked >= 6 * 2000 * 6, "sticky cases ran for %zu sums only", checked);
}

int main() {
  narrowing("fp8_e4m3", mpcore::formats::fp8_e4m3);
  narrowing("fp8_e5m2", mpcore::formats::fp8_e5m2);
  narrowing("fp16", mpcore::formats::fp16);
  all_pairs("fp8_e4m3", mpcore::formats::fp8_e4m3);
  all_pairs("fp8_e5m2", mpcore::formats::fp8_e5m2);
  all_pairs("fp6_e3m2", mpcore::formats::fp6_e3m2);
  all_pairs("fp4_e2m1", mpcore::formats::fp4_e2m1);
  sticky_cases();
  return report("test_rounding");
}
