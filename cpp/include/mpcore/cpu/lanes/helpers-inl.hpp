// Included by target-inl.hpp once per instruction set, inside namespace
// mpcore::cpu::simd::<target> and under that target's #pragma (no include guard).
// Vector helpers: loads, TwoSum, and the random bits of stochastic rounding.

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

// The contraction barrier of config.hpp's opaque(), compiled for this target: Clang checks
// an asm operand's size against the features of the function that holds the asm, so a
// 256- or 512-bit vector needs a barrier defined under the target's pragma.
template <class Vec>
__attribute__((always_inline)) inline void opaque(Vec& v) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __asm__("" : "+v"(v));
#else
  ::mpcore::detail::opaque(v);
#endif
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

// Whether any lane of a mask (lanes 0 or all ones) is set: one test instruction on x86
// (a loop over the lanes would extract them one by one).
template <class Mask>
__attribute__((always_inline)) inline bool any_lane(const Mask& mask) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if constexpr (sizeof(Mask) == 64) {
    __m512i v;
    std::memcpy(&v, &mask, sizeof v);
    return _mm512_test_epi64_mask(v, v) != 0;
  } else if constexpr (sizeof(Mask) == 32) {
    __m256i v;
    std::memcpy(&v, &mask, sizeof v);
    return !_mm256_testz_si256(v, v);
  } else if constexpr (sizeof(Mask) == 16) {
    __m128i v;
    std::memcpy(&v, &mask, sizeof v);
    return _mm_movemask_epi8(v) != 0;  // SSE2: every set lane has its sign bits set
  }
#endif
  bool some = false;
  for (std::size_t l = 0; l < sizeof(Mask) / sizeof(mask[0]); ++l) some |= mask[l] != 0;
  return some;
}

// Whether any unsigned 32-bit lane of a is at most b: on 512-bit vectors one compare into a
// mask register and its test (any_lane of the compare would first expand the mask to a
// vector, two more instructions in stochastic rounding's step).
template <class U>
__attribute__((always_inline)) inline bool any_at_most(const U& a, std::uint32_t b) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if constexpr (sizeof(U) == 64) {
    __m512i v;
    std::memcpy(&v, &a, sizeof v);
    return _mm512_cmple_epu32_mask(v, _mm512_set1_epi32(static_cast<int>(b))) != 0;
  }
#endif
  return any_lane(a <= b);
}

// Whether any 32-bit lane of a has none of `bits` (a constant, or per lane) set: on 512-bit
// vectors one test into a mask register (vptestnmd) and its test.
template <class U, class B>
__attribute__((always_inline)) inline bool any_clear(const U& a, const B& bits) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if constexpr (sizeof(U) == 64) {
    __m512i v, b;
    std::memcpy(&v, &a, sizeof v);
    if constexpr (sizeof(B) == sizeof(U)) std::memcpy(&b, &bits, sizeof b);
    else b = _mm512_set1_epi32(static_cast<int>(bits));
    return _mm512_testn_epi32_mask(v, b) != 0;
  }
#endif
  return any_lane((a & bits) == 0);
}

// f(g) for g = 0 .. G - 1, the loop kept rolled where Rolled: GCC -O3 unrolls a loop over the
// groups completely, which suits round to nearest's short step, but stochastic rounding's
// longer binary32 step, unrolled over four groups in the pairwise tree, ran out of vector
// registers (AVX-512, 256 x 784 -> 784 on one thread, stored inputs, pairwise SR: fp16 252 ->
// 191 ms rolled, bf16 198 -> 160, fp8_e4m3 447 -> 380, the same bits; no gain in the
// binary64 lanes or with AVX2, and the portable kernel's fp16 lost about 10 %).
template <bool Rolled, int G, class F>
__attribute__((always_inline)) inline void for_groups(F&& f) {
  if constexpr (Rolled) {
    MPCORE_NO_UNROLL
    for (int g = 0; g < G; ++g) f(g);
  } else {
    for (int g = 0; g < G; ++g) f(g);
  }
}

// Which of stochastic rounding's binary32 steps (grids.hpp's SrStep) a call runs first: the
// cheapest usable one, and the next where the first needed a later step in enough of the
// call's chunks (sums that keep returning near zero, in a format with a wide subnormal
// range), since a rerun costs a chunk of the later step: past a quarter of the chunks for the
// offset step (about a tenth dearer than the normal one), past half for the others. A thread's
// next call on the same grid starts where its last one settled if that was the offset step,
// one step below if it went as far as the tiny or the widened step (so escalating costs one
// step, not two or three). Any order of steps gives the same bits: each decides its lanes
// exactly or leaves them to the next.
struct SrSteps {
  struct Memory {
    std::uint64_t grid = ~std::uint64_t{0};
    int settled = 0;
  };
  static Memory& memory() {
    static thread_local Memory m;
    return m;
  }
  static constexpr int kNormal = 0, kOffset = 1, kSubnormal = 2, kTiny = 3, kAny = 4;
  int first, steps = 0, reruns = 0;
  std::uint64_t id;
  explicit SrSteps(const Float32Grid& grid)
      : first(grid.sr_normal_usable ? kNormal : grid.sr_subnormal_usable ? kSubnormal : kAny),
        id(static_cast<std::uint64_t>(grid.emin_field) << 40 | static_cast<std::uint64_t>(grid.spacing) << 32 |
           static_cast<std::uint64_t>(grid.nbits) << 24 | static_cast<std::uint64_t>(grid.max_bits >> 8)) {
    const Memory& m = memory();
    if (m.grid != id) return;
    if (m.settled == kOffset) first = kOffset;
    else if (m.settled >= kTiny && grid.sr_subnormal_usable) first = std::max(first, m.settled - 1);
  }
  ~SrSteps() {
    Memory& m = memory();
    m.grid = id;
    m.settled = first;
  }
  // The next usable step after `step` (the subnormal step's usable implies the tiny step's).
  static int next(int step, const Float32Grid& grid) {
    if (step == kNormal && grid.sr_offset_usable) return kOffset;
    if (step < kSubnormal) return grid.sr_subnormal_usable ? kSubnormal : kAny;
    return step == kSubnormal ? kTiny : kAny;
  }
  void record(bool rerun, const Float32Grid& grid) {
    reruns += rerun;
    const int share = next(first, grid) == kOffset ? 4 : 2;  // escalate past 1/4 or 1/2 of the chunks
    if (++steps >= 4 && share * reruns > steps && first < kAny) {
      first = next(first, grid);
      steps = reruns = 0;
    }
  }
};

// Runs run(integral_constant<SrStep, ...>) from s.first on, each later step only where the
// one before marked a lane (any(): whether it did), and records the call's reruns.
template <class Run, class Any>
__attribute__((always_inline)) inline void run_sr_steps(SrSteps& s, const Float32Grid& grid, Run&& run, Any&& any) {
  int step = s.first;
  for (;;) {
    if (step == SrSteps::kNormal) run(std::integral_constant<SrStep, SrStep::Normal>{});
    else if (step == SrSteps::kOffset) run(std::integral_constant<SrStep, SrStep::Offset>{});
    else if (step == SrSteps::kSubnormal) run(std::integral_constant<SrStep, SrStep::Subnormal>{});
    else if (step == SrSteps::kTiny) run(std::integral_constant<SrStep, SrStep::Tiny>{});
    else run(std::integral_constant<SrStep, SrStep::Any>{});
    if (step == SrSteps::kAny || !any()) break;
    step = s.next(step, grid);
  }
  s.record(step != s.first, grid);
}

// Stochastic-rounding keys of W lanes, as the two 32-bit halves stream_word takes.
template <int W>
struct Keys {
  typename V32<W>::u lo, hi;
  // The word of step `step` of lane l (for the exact scalar redo).
  std::uint32_t word(int l, std::uint64_t step) const { return stream_word<std::uint32_t>(lo[l], hi[l], step); }
};

// Built in arrays, then copied: setting the lanes of a vector one by one reads the vector
// first (GCC -O3 warns that a fresh one may be uninitialised).
template <Rounding Mode, int W>
__attribute__((always_inline)) inline void stream_keys(std::uint64_t seed, const std::uint64_t* index, Keys<W>& key) {
  std::uint32_t lo[W], hi[W];
  for (int l = 0; l < W; ++l) {
    const std::uint64_t k = Mode == Rounding::Stochastic ? stream_key(seed, index[l]) : 0;
    lo[l] = static_cast<std::uint32_t>(k);
    hi[l] = static_cast<std::uint32_t>(k >> 32);
  }
  static_assert(sizeof lo == sizeof key.lo, "W 32-bit lanes");
  std::memcpy(&key.lo, lo, sizeof lo);
  std::memcpy(&key.hi, hi, sizeof hi);
}

// The 32-bit word of step `step` in each of W binary32 lanes; zero unless stochastic. Its top
// nbits bits are the random bits: the binary32 steps shift it once, by what each decision needs.
template <Rounding Mode, int W>
__attribute__((always_inline)) inline void random_word32(const Keys<W>& key, std::uint64_t step,
                                                         typename V32<W>::u& word) {
  word = typename V32<W>::u{};
  if constexpr (Mode == Rounding::Stochastic) word = stream_word(key.lo, key.hi, step);
}

// The nbits random bits (the word's top bits) of step `step` in each of W binary32 lanes;
// zero unless stochastic.
template <Rounding Mode, int W>
__attribute__((always_inline)) inline void random32(const Keys<W>& key, std::uint64_t step, int nbits,
                                                    typename V32<W>::u& rnd) {
  random_word32<Mode, W>(key, step, rnd);
  rnd >>= 32 - nbits;
}

// The same bits in W binary64 lanes (drawn in 32-bit lanes, then widened).
template <Rounding Mode, int W>
__attribute__((always_inline)) inline void random64(const Keys<W>& key, std::uint64_t step, int nbits,
                                                    typename V<W>::u& rnd) {
  typename V32<W>::u r;
  random32<Mode, W>(key, step, nbits, r);
  rnd = __builtin_convertvector(r, typename V<W>::u);
}

// Splits a W-lane binary32 vector into two W/2-lane binary64 vectors (exact conversion).
template <int W>
__attribute__((always_inline)) inline void widen(const typename V32<W>::f& v, typename V<W / 2>::d (&out)[2]) {
  typedef typename V32<W / 2>::f half;
  half h0, h1;
  if constexpr (W == 4) {
    h0 = __builtin_shufflevector(v, v, 0, 1);
    h1 = __builtin_shufflevector(v, v, 2, 3);
  } else if constexpr (W == 8) {
    h0 = __builtin_shufflevector(v, v, 0, 1, 2, 3);
    h1 = __builtin_shufflevector(v, v, 4, 5, 6, 7);
  } else {
    static_assert(W == 16, "lane widths are 4, 8 and 16");
    h0 = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
    h1 = __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  }
  out[0] = __builtin_convertvector(h0, typename V<W / 2>::d);
  out[1] = __builtin_convertvector(h1, typename V<W / 2>::d);
}

// Round to nearest even by rounding to odd first: the odd one of the two numbers of the
// container around the exact hi + lo (or hi if exact), then add and subtract
// c = 1.5 * 2^(e + P - p) (P the container's precision, e v's exponent), whose ulp is the
// target's spacing at v (at least q): the container's own addition then rounds v + c on the
// target's grid, and with two spare bits (p <= P - 2) that second rounding is correct
// (Boldo-Melquiond, "Emulation of FMA and correctly rounded sums: proved algorithms using
// rounding to odd", IEEE TC 2008). The grid supplies c's exponent offset and floor
// (rne_offset, rne_c_min); opposite is -1 where lo's sign differs from hi's. Integer adds
// are unsigned (wrap-around defined); compares are signed (exact: magnitudes lie below the
// sign bit). odd: the round-to-odd bits (the caller marks lanes beyond its limits).
template <class Vf, class Vi, class Vu, class Grid>
__attribute__((always_inline)) inline void nearest_even_by_odd(const Vf& hi, const Vf& lo, const Vi& opposite,
                                                               const Grid& grid, Vi& odd, Vf& sum) {
  typedef std::decay_t<decltype(Vu{}[0])> Bits;
  constexpr Bits sign_bit = Bits{1} << (8 * sizeof(Bits) - 1);
  constexpr Bits exponent_field = sizeof(Bits) == 8 ? Bits(0x7ff0000000000000ull) : Bits(0x7f800000u);
  const Vu hb = (Vu)hi;
  if constexpr (sizeof(Vf) == 64) {
    // 512-bit vectors (AVX-512): one select, a masked OR (stored-input RNE +4.7 %)
    const Vu toward = (hb + (Vu)opposite) | Bits{1};  // the odd one of hi and its neighbour on lo's side
    odd = lo != 0 ? (Vi)toward : (Vi)hb;
  } else {  // without mask registers the two masked terms are faster (AVX2 binary64: 17 %)
    const Vi nonzero = lo != 0;
    odd = (Vi)((hb + (Vu)(opposite & nonzero)) | (Vu)(nonzero & 1));
  }
  const Vi c_bits = (Vi)(((Vu)odd & exponent_field) + (Vu)(Vi{} + grid.rne_offset));
  const Vf c = (Vf)(c_bits > grid.rne_c_min ? c_bits : grid.rne_c_min);
  const Vf rounded = ((Vf)odd + c) - c;
  sum = (Vf)((Vu)rounded | ((Vu)odd & sign_bit));  // the sign of a zero result
}
