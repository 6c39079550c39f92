// The simulated-accumulation lane kernel, vectorised across kLanes = 32 outputs with
// GCC/Clang vector extensions and compiled three times (AVX-512, AVX2, portable);
// the instruction set is chosen at run time, so a wheel runs on any x86-64 (and the
// portable copy is the only one on other CPUs).
//
// Each lane owns one output and adds its terms in order, so vectorising never
// changes an output's summation order. Every step rounds with the branch-free
// common case of rounding.hpp's add_rounded_normal, extended to the subnormal range;
// a chunk of steps in which a lane met a special case (zero, overflow, inf/NaN,
// stochastic rounding that needs bits of lo) is redone for that lane with the exact
// scalar add_rounded.
// The result is therefore bit-identical to the scalar kernels (tested on every path).
#pragma once

#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "../random.hpp"
#include "../rounding.hpp"

// The vector helpers are always inlined, so the ABI of passing vectors never applies.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace mpcore::cpu {

enum class Isa : int { Portable = 0, Avx2 = 1, Avx512 = 2 };

inline const char* name_of(Isa i) { return i == Isa::Avx512 ? "avx512" : i == Isa::Avx2 ? "avx2" : "portable"; }

inline Isa detected_isa() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
#endif
  return Isa::Portable;
}

// What $MPCORE_SIMD asks for (avx512, avx2 or portable, any case; unset or "auto": the best
// detected), and what is wrong with it: an empty, unknown or unsupported value falls back to
// the best instruction set detected and says why (the Python module warns with it).
struct IsaRequest {
  Isa isa;
  std::string problem;  // empty when the variable is unset or honoured
};

inline IsaRequest isa_from_environment() {
  const Isa best = detected_isa();
  const char* env = std::getenv("MPCORE_SIMD");
  if (!env) return {best, {}};
  std::string s(env);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "auto") return {best, {}};
  const std::string fallback = std::string("; using ") + name_of(best);
  if (s.empty()) return {best, "MPCORE_SIMD is set but empty (valid: avx512, avx2, portable, auto)" + fallback};
  if (s != "avx512" && s != "avx2" && s != "portable")
    return {best, "MPCORE_SIMD=" + std::string(env) + " is not an instruction set (valid: avx512, avx2, portable, auto)" + fallback};
  const Isa want = s == "avx512" ? Isa::Avx512 : s == "avx2" ? Isa::Avx2 : Isa::Portable;
  if (static_cast<int>(want) > static_cast<int>(best))
    return {best, "MPCORE_SIMD=" + std::string(env) + ": this CPU does not support it" + fallback};
  return {want, {}};
}

// The instruction set the kernels use: as $MPCORE_SIMD asks, else the best one detected;
// set_isa changes it (tests force each path).
inline Isa& active_isa() {
  static Isa isa = isa_from_environment().isa;
  return isa;
}

inline void set_isa(Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(detected_isa()))
    throw std::invalid_argument(std::string("this CPU does not support ") + name_of(isa) + " (best: " +
                                name_of(detected_isa()) + ")");
  active_isa() = isa;
}

namespace simd {

inline constexpr std::size_t kWidth = 32;
inline constexpr std::size_t kChunk = 16;  // steps between checks for special lanes

// Vectors of W lanes; kWidth / W of them side by side. W is the native width of the
// target (8 for AVX-512, 4 for AVX2), so no operation is split or scalarised.
template <int W>
struct V {
  typedef double d __attribute__((vector_size(8 * W)));
  typedef std::uint64_t u __attribute__((vector_size(8 * W)));
  typedef std::int64_t i __attribute__((vector_size(8 * W)));
  typedef float f __attribute__((vector_size(4 * W)));
};

// Helpers take vectors by reference: passing them by value across a target boundary
// would change the ABI (and GCC warns about it).
template <int W, class T>
__attribute__((always_inline)) inline void load(const T* p, typename V<W>::d& out) {
  if constexpr (sizeof(T) == sizeof(float)) {
    typename V<W>::f f;
    std::memcpy(&f, p, sizeof f);
    out = __builtin_convertvector(f, typename V<W>::d);
  } else {
    std::memcpy(&out, p, sizeof out);
  }
}

template <class U>
__attribute__((always_inline)) inline void mix64v(U& z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z = z ^ (z >> 31);
}

// The format's grid in binary64 bit terms, computed once per call.
struct Float64Grid {
  std::int64_t shift;        // binary64 significand bits dropped in the normal range: 53 - p
  std::int64_t nbits;        // stochastic rounding: random bits per decision
  std::int64_t emin_field;   // binary64 exponent field of 2^emin
  std::int64_t min_bits;     // below: no subnormals to round to (0 if the format has them)
  std::int64_t max_bits;     // bits of max_finite
  // The smallest subnormal q, 2q, and the bits of q/2, 3q/2 (all binary64 numbers).
  std::int64_t q_bits, two_q_bits, half_q_bits, three_half_q_bits;
  // Nearest even: c's exponent offset, its floor 1.5 * 2^(emin - p + 53), and the largest
  // magnitude the lanes handle (max_finite, or where c would overflow).
  std::int64_t rne_offset, rne_c_min, rne_limit;
};

inline Float64Grid float64_grid(const Rounder& R) {
  Float64Grid k;
  k.shift = R.normal_shift;
  k.nbits = R.sr_bits;
  k.emin_field = R.emin + 1023;
  k.min_bits = R.subnormals ? 0 : k.emin_field << 52;
  k.max_bits = static_cast<std::int64_t>(R.max_bits);
  const double q = std::ldexp(1.0, R.emin - R.precision + 1);
  k.q_bits = static_cast<std::int64_t>(detail::to_bits(q));
  k.two_q_bits = static_cast<std::int64_t>(detail::to_bits(2 * q));
  k.half_q_bits = static_cast<std::int64_t>(detail::to_bits(q / 2));
  k.three_half_q_bits = static_cast<std::int64_t>(detail::to_bits(1.5 * q));
  k.rne_offset = (static_cast<std::int64_t>(53 - R.precision) << 52) | (std::int64_t{1} << 51);
  k.rne_c_min = (static_cast<std::int64_t>(R.emin - R.precision + 53 + 1023) << 52) | (std::int64_t{1} << 51);
  const std::int64_t c_limit = (static_cast<std::int64_t>(1994 + R.precision) << 52) - 1;  // field + 53 - p <= 2046
  k.rne_limit = k.max_bits < c_limit ? k.max_bits : c_limit;
  return k;
}

// hi + lo = a + b exactly (Knuth's TwoSum, any vector type, no branch on magnitudes).
// Exact: the caller knows a + b is exact (a leaf 0 + p), so lo = 0.
template <bool Exact, class Vec>
__attribute__((always_inline)) inline void two_sum(const Vec& a, const Vec& b, Vec& hi, Vec& lo) {
  hi = a + b;
  lo = Vec{};
  if constexpr (!Exact) {
    const Vec back = hi - a;
    lo = (a - (hi - back)) + (b - back);
  }
}

// The nbits random bits of stochastic-rounding step `step` of each lane's stream.
template <int W>
__attribute__((always_inline)) inline void random_bits(const typename V<W>::u& key, std::uint64_t step, int nbits,
                                                       typename V<W>::u& out) {
  out = key + (step + 1) * kGolden;
  mix64v(out);
  out >>= 64 - nbits;
}

// sum = round(a + b) in every lane (sum may be a or b), with the branch-free common case
// of rounding.hpp's add_rounded_normal extended to the subnormal range; marks in
// `special` the lanes the exact scalar add_rounded must redo (zero with a sign rule,
// overflow, inf/NaN, stochastic rounding that needs bits of lo). rnd: the random bits
// (stochastic rounding only). Exact: the caller knows a + b is exact in binary64, so lo = 0.
template <Rounding Mode, int W, bool Exact = false>
__attribute__((always_inline)) inline void add64(const typename V<W>::d& a, const typename V<W>::d& b,
                                                 const typename V<W>::u& rnd, const Float64Grid& k,
                                                 typename V<W>::i& special, typename V<W>::d& sum) {
  typedef typename V<W>::d vd;
  typedef typename V<W>::u vu;
  typedef typename V<W>::i vi;
  // Magnitudes stay below 2^63, so signed compares (which AVX2 has) are exact.
  vd hi, lo;
  two_sum<Exact>(a, b, hi, lo);
  const vu hb = (vu)hi, lb = (vu)lo;
  if constexpr (Mode == Rounding::NearestEven) {
    // As in simd_float32.hpp: round to odd in binary64 (the odd one of the two binary64
    // numbers around the exact value, or hi if exact), then add and subtract
    // c = 1.5 * 2^(e + 53 - p), whose ulp is the target spacing at v (at least q >= 2^-1072);
    // with two spare bits (p <= 51) the second rounding is correct (Boldo-Melquiond).
    // Integer adds are unsigned (wrap-around defined); compares are signed (exact below 2^63).
    const vi nonzero = lo != 0;
    const vi opposite = (vi)(hb ^ lb) < 0;
    const vi odd = (vi)((hb + (vu)(opposite & nonzero)) | (vu)(nonzero & 1));
    const vi magnitude = odd & 0x7fffffffffffffffll;
    const vi c_raw = (vi)(((vu)odd & 0x7ff0000000000000ull) + (vu)(vi{} + k.rne_offset));
    const vd c = (vd)(c_raw > k.rne_c_min ? c_raw : k.rne_c_min);
    const vd rounded = ((vd)odd + c) - c;
    // Above max_finite or where c would overflow; below 2^emin without subnormals.
    special |= (magnitude > k.rne_limit) | ((magnitude < k.min_bits) & (magnitude != 0));
    sum = (vd)((vu)rounded | ((vu)odd & 0x8000000000000000ull));  // the sign of a zero result
    return;
  }
  const vu sign = hb & 0x8000000000000000ull;
  const vi sticky = (vi)(lb << 1) != 0;  // lo != 0, as an integer compare
  const vu m = (hb ^ sign) - ((vu)sticky & ((hb ^ lb) >> 63));
  // A non-finite TwoSum (an infinite term, or binary64 overflow of a finite sum) leaves lo NaN
  // and m at or just below inf's bits, which round past max_finite (marked below): supports()
  // keeps formats whose top reaches binary64's top binade on the scalar path.
  // Bits to drop: the normal shift, plus the distance below 2^emin in the subnormal range. At
  // binary64's subnormals (field 0, spacing of field 1) dd is off by one, but it is above 51
  // there for every format supports() admits, so those sums are decided by the compares
  // with q, 2q below, not by dd.
  const vi below = k.emin_field - (vi)(m >> 52);
  const vi dd_raw = k.shift + (below & (below > 0));
  const vi dd = dd_raw - ((dd_raw - 52) & (dd_raw > 52));  // min(dd_raw, 52): shifts stay defined
  const vu one = vu{} + 1;
  const vu mask = (one << (vu)dd) - 1, half = one << (vu)(dd - 1);
  const vu rem = m & mask, base = m - rem;
  const vi srem = (vi)rem, shalf = (vi)half;
  const vi rem_eq = srem == shalf;
  const vi above = (srem > shalf) | (rem_eq & sticky);
  const vi odd = -(vi)((m >> (vu)dd) & 1);
  vi up;
  if constexpr (Mode == Rounding::NearestEven) {
    up = above | (rem_eq & ~sticky & odd);
  } else if constexpr (Mode == Rounding::NearestAway) {
    up = above | (rem_eq & ~sticky);
  } else if constexpr (Mode == Rounding::TowardZero) {
    up = vi{};
  } else if constexpr (Mode == Rounding::Upward) {
    up = ((srem != 0) | sticky) & ((vi)sign == 0);
  } else if constexpr (Mode == Rounding::Downward) {
    up = ((srem != 0) | sticky) & ((vi)sign != 0);
  } else if constexpr (Mode == Rounding::ToOdd) {
    up = ((srem != 0) | sticky) & ~odd;
  } else {
    // floor(fraction * 2^nbits): the remainder's bits, and where nbits > dd the next
    // `left` bits from lo, as round_sum takes them: floor(t) for lo of hi's sign, else
    // 2^left - ceil(t), with t = |lo| / ulp(m) * 2^left (a power-of-two scaling, exact).
    const vi field_eff = (vi)(m >> 52) - (vi)((m >> 52) == 0);  // max(field, 1): compares give -1
    const vi right = dd - k.nbits, left = k.nbits - dd;
    const vi more = left > 0;
    const vi left0 = left & more;
    // 2^(left - ulp exponent of m); out of binary64's range the lane is special (below).
    const vd scale = (vd)((vu)(2098 + left0 - field_eff) << 52);
    const vd t = (vd)(lb & 0x7fffffffffffffffull) * scale;       // in [0, 2^(left-1)]
    const vd magic = vd{} + 4503599627370496.0;                  // 2^52: t + 2^52 rounds t to an integer
    const vd nearest = (t + magic) - magic;
    const vi t_int = (vi)((vu)(t + magic) - (vu)magic);
    const vi floor_t = t_int + (nearest > t), ceil_t = t_int - (nearest < t);  // compares give -1
    const vi opposite = sticky & -(vi)((hb ^ lb) >> 63);
    const vi extra = (opposite & (((vi{} + 1) << left0) - ceil_t)) | (~opposite & floor_t);
    const vu frac = ((rem >> (vu)(right & ~more)) << (vu)left0) | (vu)(extra & more & sticky);  // lo = 0: no bits (t may be NaN)
    up = (vi)rnd < (vi)frac;  // both below 2^52
    special |= sticky & more & (field_eff < 52 + left0);  // the scale would leave binary64's range
  }
  vu res = base + ((vu)up & (one << (vu)dd));
  // From dd = 52 on the spacing reaches the binade's width: |exact| < 2q (q the smallest
  // subnormal) and the candidates are 0, q and 2q, decided by comparing the exact value
  // (in [val(m), val(m+1)), strictly inside if sticky) with q/2, q and 3q/2.
  const vi tiny = dd_raw > 51;
  if constexpr (Mode != Rounding::Stochastic) {
    const vi mi = (vi)m, positive = (vi)sign == 0;
    const vi above_half_q = (mi > k.half_q_bits) | ((mi == k.half_q_bits) & sticky);
    const vi above_q = (mi > k.q_bits) | ((mi == k.q_bits) & sticky);
    const vi inexact_nonzero = (mi != 0) | sticky;
    vi to_q, to_2q;
    if constexpr (Mode == Rounding::NearestEven) {
      to_q = above_half_q;
      to_2q = mi >= k.three_half_q_bits;  // the tie at 3q/2 goes to the even 2q
    } else if constexpr (Mode == Rounding::NearestAway) {
      to_q = mi >= k.half_q_bits;
      to_2q = mi >= k.three_half_q_bits;
    } else if constexpr (Mode == Rounding::TowardZero) {
      to_q = mi >= k.q_bits;
      to_2q = vi{};
    } else if constexpr (Mode == Rounding::Upward) {
      to_q = positive ? inexact_nonzero : mi >= k.q_bits;
      to_2q = positive & above_q;
    } else if constexpr (Mode == Rounding::Downward) {
      to_q = positive ? mi >= k.q_bits : inexact_nonzero;
      to_2q = ~positive & above_q;
    } else {
      to_q = inexact_nonzero;  // to odd: q is odd, every inexact result below 2q is q
      to_2q = vi{};
    }
    const vi small = to_2q ? k.two_q_bits : (to_q & k.q_bits);
    res = tiny ? (vu)small : res;
  } else {
    special |= tiny;
  }
  // The vector path needs a finite result and subnormals only if the format has them.
  // An exact zero sum (m = 0, no lo) comes out as hi's zero, which is right except for
  // the sign rule of rounding downward; a nonzero sum below 2^-1074 (m = 0 with lo) is special.
  const vi zero = (vi)m == 0;
  special |= (((vi)m < k.min_bits) & ~zero) | ((vi)res > k.max_bits) | (zero & sticky);
  if constexpr (Mode == Rounding::Downward) special |= zero;
  sum = (vd)(res | sign);
}

// kWidth outputs: out[l] = the sequential accumulation of panel[j*kWidth + l] * xr[j], j < n.
// step0: the stochastic-rounding step number of term 0 (a block of a longer sum starts later).
template <Rounding Mode, int W, class T>
__attribute__((always_inline)) inline void lanes_body(const T* xr, const T* panel, std::size_t n, const Rounder& R,
                                                      std::uint64_t seed, const std::uint64_t* index, double* out,
                                                      std::uint64_t step0) {
  typedef typename V<W>::d vd;
  typedef typename V<W>::u vu;
  typedef typename V<W>::i vi;
  constexpr int G = static_cast<int>(kWidth) / W;
  const Float64Grid k = float64_grid(R);
  vu key[G];
  vd s[G];
  for (int g = 0; g < G; ++g) {
    s[g] = vd{};
    for (int l = 0; l < W; ++l)
      key[g][l] = Mode == Rounding::Stochastic ? stream_key(seed, index[g * W + l]) : 0;
  }
  Rounder r = R;
  r.mode = Mode;
  for (std::size_t j0 = 0; j0 < n; j0 += kChunk) {
    const std::size_t j1 = j0 + kChunk < n ? j0 + kChunk : n;
    vd start[G];
    vi special[G];
    for (int g = 0; g < G; ++g) {
      start[g] = s[g];
      special[g] = vi{};
    }
    for (std::size_t j = j0; j < j1; ++j) {
      const double xj = static_cast<double>(xr[j]);
      for (int g = 0; g < G; ++g) {
        vd p;
        load<W>(panel + j * kWidth + g * W, p);
        p *= xj;
        ::mpcore::detail::opaque(p);  // never fused into the TwoSum below
        vu rnd = vu{};
        if constexpr (Mode == Rounding::Stochastic) random_bits<W>(key[g], j + step0, k.nbits, rnd);
        add64<Mode, W>(s[g], p, rnd, k, special[g], s[g]);
      }
    }
    vi any = special[0];
    for (int g = 1; g < G; ++g) any |= special[g];
    bool some = false;
    for (int l = 0; l < W; ++l) some |= any[l] != 0;
    if (some) {  // rare: redo the chunk exactly for the lanes that met a special case
      for (std::size_t lane = 0; lane < kWidth; ++lane) {
        const int g = static_cast<int>(lane) / W, l = static_cast<int>(lane) % W;
        if (!special[g][l]) continue;  // lanes are independent: the others are exact
        const std::uint64_t k = Mode == Rounding::Stochastic ? key[g][l] : 0;
        double v = start[g][l];
        for (std::size_t j = j0; j < j1; ++j) {
          const double p = ::mpcore::detail::unfused_mul(static_cast<double>(panel[j * kWidth + lane]), static_cast<double>(xr[j]));
          v = add_rounded(v, p, r, Mode == Rounding::Stochastic ? stream_bits(k, j + step0) : 0);
        }
        s[g][l] = v;
      }
    }
  }
  for (std::size_t lane = 0; lane < kWidth; ++lane) out[lane] = s[lane / W][lane % W];
}

#define MPCORE_LANES_CLONE(NAME, W, ATTR)                                                                \
  template <Rounding Mode, class T>                                                                      \
  ATTR void NAME(const T* xr, const T* panel, std::size_t n, const Rounder& R, std::uint64_t seed,       \
                 const std::uint64_t* index, double* out, std::uint64_t step0) {                         \
    lanes_body<Mode, W, T>(xr, panel, n, R, seed, index, out, step0);                                    \
  }
MPCORE_LANES_CLONE(lanes_portable, 2, )
#if defined(__x86_64__) && defined(__GNUC__)
MPCORE_LANES_CLONE(lanes_avx2, 4, __attribute__((target("avx2,fma"))))
MPCORE_LANES_CLONE(lanes_avx512, 8, __attribute__((target("avx512f,avx512dq"))))
#endif
#undef MPCORE_LANES_CLONE

template <Rounding Mode, class T>
void lanes_mode(const T* xr, const T* panel, std::size_t n, const Rounder& R, std::uint64_t seed,
                const std::uint64_t* index, double* out, std::uint64_t step0) {
#if defined(__x86_64__) && defined(__GNUC__)
  switch (active_isa()) {
    case Isa::Avx512: return lanes_avx512<Mode, T>(xr, panel, n, R, seed, index, out, step0);
    case Isa::Avx2: return lanes_avx2<Mode, T>(xr, panel, n, R, seed, index, out, step0);
    default: break;
  }
#endif
  lanes_portable<Mode, T>(xr, panel, n, R, seed, index, out, step0);
}

// kWidth sequential sums of panel[j * kWidth + l] * xr[j], j < n, from zero, rounded per R
// (whose mode picks the instantiation).
template <class T>
void lanes(const T* xr, const T* panel, std::size_t n, const Rounder& R, std::uint64_t seed,
           const std::uint64_t* index, double* out, std::uint64_t step0 = 0) {
  with_any_rounding(R.mode, [&](auto m) { lanes_mode<decltype(m)::value>(xr, panel, n, R, seed, index, out, step0); });
}

#if defined(__x86_64__) && defined(__GNUC__)
// The native paths with hardware FMA (an AVX2 machine has it; baseline x86-64 code
// would call the library's fma per term). vfmadd rounds a*b + c once, as fma does.
__attribute__((target("avx2,fma"))) inline void native_fp32_avx2(const float* xr, const float* panel, std::size_t n,
                                                                  double* out) {
  static_assert(kWidth % 8 == 0, "lanes come in groups of 8 floats");
  constexpr std::size_t G = kWidth / 8;
  __m256 s[G];
  for (std::size_t g = 0; g < G; ++g) s[g] = _mm256_setzero_ps();
  for (std::size_t j = 0; j < n; ++j) {
    const __m256 xj = _mm256_set1_ps(xr[j]);
    for (std::size_t g = 0; g < G; ++g) s[g] = _mm256_fmadd_ps(_mm256_loadu_ps(panel + j * kWidth + g * 8), xj, s[g]);
  }
  float tmp[kWidth];
  for (std::size_t g = 0; g < G; ++g) _mm256_storeu_ps(tmp + g * 8, s[g]);
  for (std::size_t l = 0; l < kWidth; ++l) out[l] = tmp[l];
}

// fp64 accumulation: fma of exact float products, or (double inputs) the product rounded
// first and then added, as the scalar path does.
template <class T>
__attribute__((target("avx2,fma"))) void native_fp64_avx2(const T* xr, const T* panel, std::size_t n, double* out) {
  constexpr std::size_t G = kWidth / 4;
  __m256d s[G];
  for (std::size_t g = 0; g < G; ++g) s[g] = _mm256_setzero_pd();
  for (std::size_t j = 0; j < n; ++j) {
    const __m256d xj = _mm256_set1_pd(static_cast<double>(xr[j]));
    for (std::size_t g = 0; g < G; ++g) {
      __m256d wv;
      if constexpr (sizeof(T) == sizeof(float)) {
        wv = _mm256_cvtps_pd(_mm_loadu_ps(panel + j * kWidth + g * 4));
        s[g] = _mm256_fmadd_pd(wv, xj, s[g]);
      } else {
        wv = _mm256_loadu_pd(panel + j * kWidth + g * 4);
        __m256d p = _mm256_mul_pd(wv, xj);
        ::mpcore::detail::opaque(p);  // rounded once, then added: never one fma
        s[g] = _mm256_add_pd(s[g], p);
      }
    }
  }
  for (std::size_t g = 0; g < G; ++g) _mm256_storeu_pd(out + g * 4, s[g]);
}
#endif

// The native kernels for a panel: true when a vector version ran.
inline bool native_fp32(const float* xr, const float* panel, std::size_t n, double* out) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (active_isa() != Isa::Portable) {
    native_fp32_avx2(xr, panel, n, out);
    return true;
  }
#endif
  (void)xr, (void)panel, (void)n, (void)out;
  return false;
}

template <class T>
bool native_fp64(const T* xr, const T* panel, std::size_t n, double* out) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (active_isa() != Isa::Portable) {
    native_fp64_avx2(xr, panel, n, out);
    return true;
  }
#endif
  (void)xr, (void)panel, (void)n, (void)out;
  return false;
}

// Whether the vector kernel handles this format and mode (the scalar kernels handle the
// rest): 2 <= p <= 52, and p <= 51 for nearest-even (two spare bits for round-to-odd),
// and the format stays off binary64's edges: its smallest subnormal q is a binary64 normal
// number (q >= 2^-1022, so binary64 subnormal sums fall below 2q, where compares decide) and
// its max_finite lies below 2^1023 (so a non-finite TwoSum rounds past max_finite and is
// marked). Custom formats beyond either edge run the exact scalar path.
inline bool supports_grid(int precision, int emin, double max_finite, Rounding mode) {
  return precision >= 2 && precision <= (mode == Rounding::NearestEven ? 51 : 52) && emin - precision + 1 >= -1022 &&
         max_finite < 0x1p1023;
}
inline bool supports(const Format& f, Rounding mode) { return supports_grid(f.precision, f.emin, f.max_finite, mode); }
inline bool supports(const Rounder& R) { return supports_grid(R.precision, R.emin, R.max_finite, R.mode); }

}  // namespace simd
}  // namespace mpcore::cpu

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
