// The lane kernels (binary32 and binary64 containers) against the exact scalar step, on
// every instruction set this CPU has, and the proof that decides when binary32 may run.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "check.hpp"
#include "reference.hpp"
#include <mpcore/mpcore.hpp>

using namespace mpcore;

static bool same(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b && std::signbit(a) == std::signbit(b);
}

// Whether v has at most `bits` significant bits and a normal binary32 exponent.
static bool fits(double v, int bits) {
  if (v == 0) return true;
  const double a = std::fabs(v);
  if (!(a >= std::ldexp(1.0, -126) && a < std::ldexp(1.0, 127))) return false;
  int e;
  std::frexp(a, &e);
  const double scaled = std::ldexp(a, bits - e);
  return scaled == std::floor(scaled);
}

// Lane l adds p[l] to s[l] (s[l] a value of the format): terms s*1 and p*1, from zero.
static long run_pairs(const Format& f, Rounding mode, const std::vector<float>& s, const std::vector<float>& p,
                      int sr_bits = kMaxStochasticBits) {
  const Rounder R = make_rounder(f, mode, sr_bits);
  const std::size_t L = cpu::simd::kWidth;
  const float ones[2] = {1.0f, 1.0f};
  std::vector<float> panel(2 * L);
  std::uint64_t index[L];
  double out[L];
  long mismatches = 0;
  const bool sr = mode == Rounding::Stochastic;
  for (std::size_t k0 = 0; k0 < s.size(); k0 += L) {
    for (std::size_t l = 0; l < L; ++l) {
      const std::size_t k = k0 + l < s.size() ? k0 + l : s.size() - 1;
      panel[l] = s[k];
      panel[L + l] = p[k];
      index[l] = k;
    }
    cpu::simd::lanes32(ones, panel.data(), 2, R, 9, index, out);
    for (std::size_t l = 0; l < L && k0 + l < s.size(); ++l) {
      const std::uint64_t key = stream_key(9, index[l]);
      const double first = add_rounded(0.0, panel[l], R, sr ? stream_bits(key, 0) : 0);
      const double want = add_rounded(first, panel[L + l], R, sr ? stream_bits(key, 1) : 0);
      const bool ok = same(out[l], want);
      mismatches += !ok;
      CHECK(ok, "p=%d emin=%d mode %d: %.9g + %.9g gave %.17g, want %.17g", f.precision, f.emin, int(mode),
            panel[l], panel[L + l], out[l], want);
    }
  }
  return mismatches;
}

// (s, p) pairs that reach every case: all values of small formats, cancellation down to
// the subnormal range and below q, exact ties, overflow.
static void pairs_for(const Format& f, std::mt19937_64& gen, std::vector<float>& s, std::vector<float>& p) {
  std::vector<double> grid = ref::values(f);  // nonnegative finite values
  if (grid.size() > 4096) {
    std::shuffle(grid.begin(), grid.end(), gen);
    grid.resize(4096);
    grid.push_back(0.0);
    grid.push_back(f.max_finite);
    grid.push_back(std::ldexp(1.0, f.emin));
  }
  std::uniform_int_distribution<int> bits_d(1, 23 - 0), shift_d(-30, 4);
  std::uniform_real_distribution<double> U(-1.0, 1.0);
  const double q = std::ldexp(1.0, f.emin - f.precision + 1);
  auto push = [&](double a, double b) {
    if (fits(a, f.precision) && fits(b, 23) && std::fabs(a) <= f.max_finite) {
      s.push_back(static_cast<float>(a));
      p.push_back(static_cast<float>(b));
    }
  };
  for (double g : grid)
    for (double sv : {g, -g}) {
      const double spacing = sv == 0 ? q : std::ldexp(1.0, std::ilogb(sv) - f.precision + 1);
      for (std::size_t t = 0; t < std::max<std::size_t>(6, 40000 / grid.size()); ++t) {
        // A term with a few random bits at a random scale relative to s.
        const int b = bits_d(gen);
        double term = std::ldexp(std::round(U(gen) * std::ldexp(1.0, b)), shift_d(gen) - b);
        term *= sv == 0 ? std::ldexp(q, 20) : std::fabs(sv);
        push(sv, std::ldexp(std::round(std::ldexp(term, 40)), -40) == term ? term : 0.0);
        // Cancellation: s + p lands a few spacings (or fractions of q) from zero.
        push(sv, -sv + std::ldexp(std::round(U(gen) * 64), -4) * q);
        // Exact ties and near-ties: s + p at a midpoint of the grid, or just off it.
        const double mid = sv + spacing * (0.5 + std::round(U(gen) * 3));
        push(sv, mid - sv);
        push(sv, mid - sv + spacing * std::ldexp(1.0, -12));
        push(sv, mid - sv - spacing * std::ldexp(1.0, -12));
      }
      push(sv, f.max_finite);  // overflow (or not, for negative s)
    }
  // Partial sums near the format's top whose exact sum leaves binary32's range (formats
  // with fp32's exponent range): TwoSum in binary32 overflows although every input is finite.
  for (double top : {f.max_finite, f.max_finite / 2, std::ldexp(1.0, f.emax)})
    for (double term : {0x1.fffffep+126, 0x1.8p+126, 0x1p+126, 0x1.ff8p+126})
      for (double sign_s : {1.0, -1.0})
        for (double sign_p : {1.0, -1.0})
          if (top <= f.max_finite && fits(term, 23)) {
            s.push_back(static_cast<float>(sign_s * top));
            p.push_back(static_cast<float>(sign_p * term));
          }
}

static void kernel_matches_scalar_steps() {
  std::mt19937_64 gen(5);
  for (const auto& nf : formats::all) {
    if (!cpu::simd::supports_float32(make_rounder(nf.format, Rounding::NearestEven))) continue;
    std::vector<float> s, p;
    pairs_for(nf.format, gen, s, p);
    CHECK(s.size() > 5000, "%s: only %zu pairs", nf.name, s.size());
    for (Rounding mode : kRoundingValues) {  // every mode but rounding downward (binary64 lanes)
      if (!cpu::simd::supports_float32(make_rounder(nf.format, mode))) continue;
      const long bad = run_pairs(nf.format, mode, s, p);
      if (bad) std::fprintf(stderr, "%s mode %d (%s): %ld of %zu pairs differ\n", nf.name, int(mode),
                            cpu::name_of(cpu::active_isa()), bad, s.size());
    }
    // Stochastic rounding with few random bits: the last bits of the fraction decide often.
    for (int bits : {1, 2, 5, 13, 23, 26, 30, 31})
      if (run_pairs(nf.format, Rounding::Stochastic, s, p, bits))
        std::fprintf(stderr, "%s sr with %d bits differs\n", nf.name, bits);
  }
}

// The scalar container (add_rounded_normal, the branch-free step of the scalar lane loop):
// where it does not mark a pair special, its sum is add_rounded's, bit for bit; it must
// finish most pairs itself, or the comparison would test nothing.
static void scalar_container_matches(const char* name, const Rounder& R, const std::vector<double>& s,
                                     const std::vector<double>& p) {
  std::size_t finished = 0;
  with_any_rounding(R.mode, [&](auto m) {
    for (std::size_t k = 0; k < s.size(); ++k) {
      const std::uint64_t bits = stream_bits(stream_key(4, k), 1);
      const double first = add_rounded(0.0, s[k], R, bits);
      const double want = add_rounded(first, p[k], R, bits);
      bool special = false;
      const double got = add_rounded_normal<decltype(m)::value>(first, p[k], R, bits, special);
      if (special) continue;
      ++finished;
      CHECK(same(got, want), "%s mode %d scalar container: %.17g + %.17g gave %.17g, want %.17g", name, int(R.mode),
            first, p[k], got, want);
    }
  });
  // Stochastic rounding needs lo's bits whenever its random bits reach below m's.
  const std::size_t least = R.mode == Rounding::Stochastic ? s.size() / 8 : s.size() / 4;
  CHECK(R.precision == 53 || finished > least, "%s mode %d: the scalar container finished %zu of %zu pairs",
        name, int(R.mode), finished, s.size());
}

// Binary64 lanes: lane l adds p[l] (up to 53 significant bits) to s[l], every mode.
static void binary64_kernel_matches_scalar_steps(bool with_scalar) {
  std::mt19937_64 gen(11);
  std::uniform_real_distribution<double> U(-1.0, 1.0);
  std::uniform_int_distribution<int> scale_d(-60, 6);
  const std::size_t L = cpu::simd::kWidth;
  // The named formats, and custom ones at the edges of what the lanes take (supports()):
  // the smallest subnormal q = 2^-1022 (sums at binary64's subnormals and tiny binades, where
  // stochastic rounding's bits of lo need a scale near binary64's range), and a top binade
  // just below 2^1023 (sums that overflow binary64 itself). Beyond those edges: scalar path.
  std::vector<formats::Named> all(std::begin(formats::all), std::end(formats::all));
  const double top = std::ldexp(1.0, 1022);
  all.push_back({"p40_q2^-1022", Format{40, -983, 1022, true, (2.0 - std::ldexp(1.0, -39)) * top, Overflow::Inf, 52}});
  all.push_back({"p20_q2^-1022", Format{20, -1003, 1000, true, (2.0 - std::ldexp(1.0, -19)) * std::ldexp(1.0, 1000),
                                        Overflow::Inf, 31}});
  all.push_back({"p52_q2^-1022", Format{52, -971, 1022, true, (2.0 - std::ldexp(1.0, -51)) * top, Overflow::Inf, 63}});
  all.push_back({"p8_top2^1022_saturating", Format{8, -1000, 1022, true, (2.0 - std::ldexp(1.0, -7)) * top,
                                                   Overflow::Saturate, 19}});
  for (std::size_t k = std::size(formats::all); k < all.size(); ++k)
    CHECK(cpu::simd::supports(all[k].format, Rounding::TowardZero), "%s must run in the lanes", all[k].name);
  const Format beyond_low{40, -1022, 1023, true, (2.0 - std::ldexp(1.0, -39)) * top * 2, Overflow::Inf, 52};
  const Format beyond_top{20, -1000, 1023, true, (2.0 - std::ldexp(1.0, -19)) * top * 2, Overflow::Inf, 31};
  CHECK(!cpu::simd::supports(beyond_low, Rounding::TowardZero) && !cpu::simd::supports(beyond_top, Rounding::Upward),
        "formats past binary64's edges stay on the scalar path");
  for (const auto& nf : all) {
    const Format& f = nf.format;
    std::vector<double> grid;
    const double count = std::ldexp(static_cast<double>(f.emax - f.emin + 2), f.precision - 1);
    if (count < 1e5) {
      grid = ref::values(f);
      std::shuffle(grid.begin(), grid.end(), gen);
      if (grid.size() > 3000) grid.resize(3000);
    } else {  // too many values to list: random ones, normal and subnormal
      std::uniform_int_distribution<int> e_d(f.emin - 3, f.emax);
      for (int t = 0; t < 3000; ++t) {
        const double m = std::floor(std::ldexp((U(gen) + 1) / 2, f.precision));  // up to p bits
        const double v = std::ldexp(m, std::max(e_d(gen), f.emin) - f.precision + 1);
        if (v <= f.max_finite) grid.push_back(v);
      }
      grid.push_back(0.0);
    }
    grid.push_back(f.max_finite);
    const double q = std::ldexp(1.0, f.emin - f.precision + 1);
    std::vector<double> s, p;
    for (double g : grid)
      for (double sv : {g, -g}) {
        const double spacing = sv == 0 ? q : std::ldexp(1.0, std::ilogb(sv) - f.precision + 1);
        for (std::size_t t = 0; t < std::max<std::size_t>(8, 12000 / grid.size()); ++t) {
          const double mag = sv == 0 ? std::ldexp(q, 8) : std::fabs(sv);
          s.push_back(sv), p.push_back(U(gen) * std::ldexp(mag, scale_d(gen)));  // 53 random bits
          s.push_back(sv), p.push_back(-sv + U(gen) * 8 * q);                       // near-cancellation
          const double mid = sv + spacing * (0.5 + std::round(U(gen) * 3));        // ties and near-ties
          s.push_back(sv), p.push_back(mid - sv);
          s.push_back(sv), p.push_back((mid - sv) * (1 + std::ldexp(U(gen), -40)));
        }
        s.push_back(sv), p.push_back(-sv);  // exact zero
        s.push_back(sv), p.push_back(f.max_finite);
        s.push_back(sv), p.push_back(-f.max_finite);
        for (double t = 0.25; t <= 4; t += 0.25) s.push_back(sv), p.push_back(t * q * (sv < 0 ? -1 : 1));  // near q
      }
    CHECK(s.size() > 1000, "%s: %zu pairs", nf.name, s.size());
    for (Rounding mode : kRoundingValues) {
      const Rounder R = make_rounder(f, mode);
      if (!cpu::simd::supports(R)) continue;
      const double ones[2] = {1.0, 1.0};
      std::vector<double> panel(2 * L);
      std::uint64_t index[L];
      double out[L];
      long bad = 0;
      for (std::size_t k0 = 0; k0 < s.size(); k0 += L) {
        for (std::size_t l = 0; l < L; ++l) {
          const std::size_t k = std::min(k0 + l, s.size() - 1);
          panel[l] = s[k];
          panel[L + l] = p[k];
          index[l] = k;
        }
        cpu::simd::lanes(ones, panel.data(), 2, R, 3, index, out);
        for (std::size_t l = 0; l < L && k0 + l < s.size(); ++l) {
          const std::uint64_t key = stream_key(3, index[l]);
          const bool sr = mode == Rounding::Stochastic;
          const double first = add_rounded(0.0, panel[l], R, sr ? stream_bits(key, 0) : 0);
          const double want = add_rounded(first, panel[L + l], R, sr ? stream_bits(key, 1) : 0);
          const bool ok = same(out[l], want);
          bad += !ok;
          CHECK(ok, "%s mode %d: %.17g + %.17g gave %.17g, want %.17g", nf.name, int(mode), panel[l], panel[L + l],
                out[l], want);
        }
      }
      if (bad) std::fprintf(stderr, "%s mode %d: %ld of %zu pairs differ\n", nf.name, int(mode), bad, s.size());
      if (with_scalar) scalar_container_matches(nf.name, R, s, p);
    }
  }
}

// Stochastic rounding's decision at its boundary: for each pair, the threshold T of the
// exact scalar step (up iff rnd < T, found by bisection over rnd) and the vector steps given
// rnd = T - 1, T, T + 1 and the extremes, lane by lane (the portable copy: the same source as
// every target's). Each binary32 step (SrStep) must agree wherever it does not mark the lane,
// and decide most lanes of its range itself.
// least: the fraction of checks the step must decide itself.
template <class Step>
static void sr_boundaries(const char* name, const Rounder& R, const std::vector<double>& s,
                          const std::vector<double>& p, const char* what, Step&& step, double least = 0.5) {
  const int nb = R.sr_bits;
  const std::uint64_t top = std::uint64_t{1} << nb;
  std::size_t decided = 0, total = 0;
  for (std::size_t k = 0; k < s.size(); ++k) {
    const double first = add_rounded(0.0, s[k], R, 0);  // a value of the format
    auto scalar = [&](std::uint64_t rnd) {
      return add_rounded(first, p[k], R, static_cast<std::uint32_t>(rnd << (32 - nb)));
    };
    const double never = scalar(top - 1);  // rnd < T fails for every rnd below 2^nb unless T = 2^nb
    std::uint64_t lo = 0, hi = top;         // T in [lo, hi]: scalar(r) != never exactly for r < T
    if (same(scalar(0), never)) {
      hi = 0;
    } else {
      while (hi - lo > 1) {
        const std::uint64_t mid = lo + (hi - lo) / 2;
        (same(scalar(mid), never) ? hi : lo) = mid;
      }
    }
    const std::uint64_t T = hi;
    std::uint64_t rnds[5] = {0, T ? T - 1 : 0, T < top ? T : top - 1, T + 1 < top ? T + 1 : top - 1, top - 1};
    for (std::uint64_t rnd : rnds) {
      bool special = false;
      const double got = step(first, p[k], static_cast<std::uint32_t>(rnd), special);
      ++total;
      if (special) continue;
      ++decided;
      const double want = scalar(rnd);
      CHECK(same(got, want), "%s %s sr_bits %d: %.17g + %.17g with rnd %llu (T %llu) gave %.17g, want %.17g", name,
            what, nb, first, p[k], static_cast<unsigned long long>(rnd), static_cast<unsigned long long>(T), got, want);
    }
  }
  CHECK(decided > least * total, "%s %s sr_bits %d: the step decided only %zu of %zu", name, what, nb, decided,
        total);
}

static void sr_decision_at_its_boundary() {
  namespace simd = cpu::simd;
  std::mt19937_64 gen(17);
  for (const auto& nf : formats::all) {
    if (!cpu::simd::supports_float32(make_rounder(nf.format, Rounding::Stochastic))) continue;  // small formats
    std::vector<float> s32, p32;
    pairs_for(nf.format, gen, s32, p32);
    std::vector<double> s, p;
    for (std::size_t k = 0; k < s32.size(); k += 7) s.push_back(s32[k]), p.push_back(p32[k]);
    for (int nb : {1, 13, 23, 26, 32}) {
      const Rounder R = make_rounder(nf.format, Rounding::Stochastic, nb);
      if (simd::supports_float32(R)) {
        const simd::Float32Grid grid = simd::float32_grid(R);
        auto binary32 = [&](auto step, auto exact) {
          return [&](double a, double b, std::uint32_t rnd, bool& special) {
            typedef simd::V32<4> V;
            V::f va = V::f{} + static_cast<float>(a), vb = V::f{} + static_cast<float>(b), sum;
            V::u vr = V::u{} + (rnd << (32 - grid.nbits));  // the word whose top nbits bits are rnd
            V::i mark{};
            simd::portable::add32<Rounding::Stochastic, 4, decltype(exact)::value, decltype(step)::value>(
                va, vb, grid, vr, mark, sum);
            special = mark[0] != 0;
            return static_cast<double>(sum[0]);
          };
        };
        // Leaves (0 + p, exact in binary32): the steps' Exact forms.
        const std::vector<double> zeros(p.size(), 0.0);
        using Sub = std::integral_constant<simd::SrStep, simd::SrStep::Subnormal>;
        using Tiny = std::integral_constant<simd::SrStep, simd::SrStep::Tiny>;
        using Offset = std::integral_constant<simd::SrStep, simd::SrStep::Offset>;
        if (grid.sr_subnormal_usable) {
          sr_boundaries(nf.name, R, zeros, p, "binary32 subnormal step, leaves", binary32(Sub{}, std::true_type{}),
                        0.4);  // fp4's leaves lie below 2q about half the time
          sr_boundaries(nf.name, R, zeros, p, "binary32 tiny step, leaves", binary32(Tiny{}, std::true_type{}));
          // Below 2q with lo != 0 (binary32 sums q (1 - k/8) -+ a few ulps): hi just off
          // multiples of q/8, lo deciding the side.
          std::vector<double> s3 = s, p3 = p;
          const double q = std::ldexp(1.0, nf.format.emin - nf.format.precision + 1);
          for (int k = 0; k <= 16; ++k)
            for (double tiny : {std::ldexp(q, -20), -std::ldexp(q, -20), std::ldexp(q, -3)})
              for (double sign : {1.0, -1.0})
                if (fits(-k * q / 8 + tiny, 23)) s3.push_back(sign * q), p3.push_back(sign * (-k * q / 8 + tiny));
          sr_boundaries(nf.name, R, s3, p3, "binary32 tiny step", binary32(Tiny{}, std::false_type{}));
          if (grid.sr_offset_usable)
            sr_boundaries(nf.name, R, s3, p3, "binary32 offset step below 2q", binary32(Offset{}, std::false_type{}),
                          0.85);
        }
        if (grid.sr_offset_usable) {
          // The normal step with the range below 2^emin moved up by 2^emin: every sum (deciding
          // from hi alone, |hi| + 2^emin rounded or not, except where a lane needs lo: then the
          // whole step, which marks a rounded |hi| + 2^emin and hi = 2^emin with lo below it),
          // and the sums below 2^emin, nearly all of which it must decide itself.
          // (fp4's random 23-bit terms below 2^emin are often inexact there: 0.85.)
          sr_boundaries(nf.name, R, s, p, "binary32 offset step", binary32(Offset{}, std::false_type{}), 0.85);
          sr_boundaries(nf.name, R, zeros, p, "binary32 offset step, leaves", binary32(Offset{}, std::true_type{}),
                        0.85);
          std::vector<double> sb, pb;
          for (std::size_t k = 0; k < s.size(); ++k)
            if (std::fabs(s[k] + p[k]) < std::ldexp(1.0, nf.format.emin)) sb.push_back(s[k]), pb.push_back(p[k]);
          CHECK(sb.size() > 100, "%s: only %zu sums below 2^emin", nf.name, sb.size());
          sr_boundaries(nf.name, R, sb, pb, "binary32 offset step below 2^emin", binary32(Offset{}, std::false_type{}),
                        0.9);
        }
        if (grid.sr_normal_usable) {
          std::vector<double> sn, pn;  // the normal step's range: sums of at least 2^emin
          for (std::size_t k = 0; k < s.size(); ++k)
            if (std::fabs(s[k] + p[k]) >= std::ldexp(2.0, nf.format.emin)) sn.push_back(s[k]), pn.push_back(p[k]);
          sr_boundaries(nf.name, R, sn, pn, "binary32 normal step",
                        binary32(std::integral_constant<simd::SrStep, simd::SrStep::Normal>{}, std::false_type{}));
          std::vector<double> zn(pn.size(), 0.0), leaves;  // leaves of the normal range
          for (double v : p)
            if (std::fabs(v) >= std::ldexp(2.0, nf.format.emin)) leaves.push_back(v);
          zn.assign(leaves.size(), 0.0);
          sr_boundaries(nf.name, R, zn, leaves, "binary32 normal step, leaves",
                        binary32(std::integral_constant<simd::SrStep, simd::SrStep::Normal>{}, std::true_type{}));
        }
        if (grid.sr_subnormal_usable)
          sr_boundaries(nf.name, R, s, p, "binary32 subnormal step",
                        binary32(Sub{}, std::false_type{}));
        sr_boundaries(nf.name, R, s, p, "binary32 any step",
                      binary32(std::integral_constant<simd::SrStep, simd::SrStep::Any>{}, std::false_type{}));
      }
      if (simd::supports(R)) {
        const simd::Float64Grid grid = simd::float64_grid(R);
        auto binary64 = [&](auto rem_only) {
          return [&](double a, double b, std::uint32_t rnd, bool& special) {
            typedef simd::V<2> V;
            V::d va = V::d{} + a, vb = V::d{} + b, sum;
            V::u vr = V::u{} + rnd;
            V::i mark{};
            simd::portable::add64<Rounding::Stochastic, 2, false, decltype(rem_only)::value>(va, vb, vr, grid, mark,
                                                                                              sum);
            special = mark[0] != 0;
            return sum[0];
          };
        };
        sr_boundaries(nf.name, R, s, p, "binary64 step", binary64(std::false_type{}));
        if (grid.sr_rem_only) {
          // Below 2q with lo != 0: sums q (1 - k/8) -+ 2^-60 q, inexact in binary64, whose hi is
          // a multiple of q/8 (an integer once scaled) and whose lo decides which side.
          std::vector<double> s2 = s, p2 = p;
          const double q = std::ldexp(1.0, nf.format.emin - nf.format.precision + 1);
          for (int k = 0; k <= 16; ++k)
            for (double tiny : {std::ldexp(q, -60), -std::ldexp(q, -60)})
              for (double sign : {1.0, -1.0}) s2.push_back(sign * q), p2.push_back(sign * (-k * q / 8 + tiny));
          sr_boundaries(nf.name, R, s2, p2, "binary64 step from rem", binary64(std::true_type{}));
        }
        if (grid.sr_offset) {
          // The offset's edges (stochastic_offset64): leaves just below a multiple M of q 2^-nbits
          // (M < 2^(emin-1)), whose 2^emin + |p| rounds up to 2^emin + M (m must come from
          // err + lo, not from lo), and sums just below 2^emin (hi = 2^emin, lo below it).
          const double q = std::ldexp(1.0, nf.format.emin - nf.format.precision + 1), emin = std::ldexp(1.0, nf.format.emin);
          std::vector<double> s4, p4;
          for (int c = 1; c <= 200; ++c) {
            const double M = c * std::ldexp(q, -nb);
            if (M >= emin / 2) break;
            for (double sign : {1.0, -1.0}) s4.push_back(0.0), p4.push_back(sign * std::nextafter(M, 0.0));
          }
          for (int k : {60, 56, 54})
            for (double sign : {1.0, -1.0}) s4.push_back(sign * emin), p4.push_back(-sign * std::ldexp(emin, -k));
          CHECK(s4.size() > 6, "%s sr_bits %d: no offset edges", nf.name, nb);
          sr_boundaries(nf.name, R, s4, p4, "binary64 step, offset edges", binary64(std::true_type{}), 0.9);
        }
      }
    }
  }
}

static void proof_boundaries() {
  using cpu::digest;
  using cpu::products_exact_in_float32;
  auto d = [](std::vector<float> v) { return digest(v.data(), v.size()); };
  const float twelve = 1.0f + std::ldexp(1.0f, -11), thirteen = 1.0f + std::ldexp(1.0f, -12);
  CHECK(products_exact_in_float32(d({twelve, 0.0f}), d({twelve, -2.0f})), "12 + 12 bits");
  CHECK(!products_exact_in_float32(d({twelve}), d({thirteen})), "12 + 13 bits");
  CHECK(products_exact_in_float32(d({0.0f, -0.0f}), d({0.1f})), "zeros times anything");
  CHECK(products_exact_in_float32(d({std::ldexp(1.0f, -63)}), d({std::ldexp(1.0f, -63)})), "2^-126");
  CHECK(!products_exact_in_float32(d({std::ldexp(1.0f, -64)}), d({std::ldexp(1.0f, -63)})), "2^-127");
  CHECK(products_exact_in_float32(d({std::ldexp(1.5f, 62)}), d({std::ldexp(1.5f, 63)})), "below 2^127");
  CHECK(!products_exact_in_float32(d({std::ldexp(1.0f, 64)}), d({std::ldexp(1.0f, 63)})), "2^127");
  CHECK(!products_exact_in_float32(d({1.0f, std::ldexp(1.0f, -140)}), d({1.0f})), "subnormal input");
  CHECK(!products_exact_in_float32(d({1.0f, INFINITY}), d({1.0f})), "infinite input");
  CHECK(!products_exact_in_float32(d({1.0f}), d({NAN})), "NaN input");
  // The digest of a long array (the vectorised loop) equals that of its pieces.
  std::vector<float> v(1003);
  std::mt19937 gen(1);
  std::normal_distribution<float> N;
  for (auto& x : v) x = std::ldexp(std::round(N(gen) * 64), -9);
  v[500] = 1.0f + std::ldexp(1.0f, -20);
  const auto all = d(v);
  CHECK(all.bits() == 21 && all.min_field > 0 && !all.unsupported, "digest bits %d", all.bits());
}

int main() {
  proof_boundaries();
  sr_decision_at_its_boundary();
  const cpu::Isa best = cpu::detected_isa();
  for (cpu::Isa isa : {cpu::Isa::Portable, cpu::Isa::Avx2, cpu::Isa::Avx512}) {
    if (static_cast<int>(isa) > static_cast<int>(best)) continue;
    cpu::set_isa(isa);
    kernel_matches_scalar_steps();
    binary64_kernel_matches_scalar_steps(isa == cpu::Isa::Portable);
  }
  cpu::set_isa(best);
  return report("test_lane_steps");
}
