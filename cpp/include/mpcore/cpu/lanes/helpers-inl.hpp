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

// The nbits random bits of stochastic-rounding step `step` of each lane's stream.
template <int W>
__attribute__((always_inline)) inline void random_bits(const typename V<W>::u& key, std::uint64_t step, int nbits,
                                                       typename V<W>::u& out) {
  out = key + (step + 1) * kGolden;
  mix64_in_place(out);
  out >>= 64 - nbits;
}

// Stochastic rounding's random bits for W binary32 lanes: two halves of W/2 64-bit words
// (the streams of random.hpp are 64-bit).
template <int W>
struct Random32 {
  typename V<W / 2>::u half[2];
};

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

// Stochastic-rounding keys of W binary32 lanes (as two halves of 64-bit words).
template <int W>
struct Keys32 {
  typename V<W / 2>::u half[2];
};

template <Rounding Mode, int W>
__attribute__((always_inline)) inline void keys32(std::uint64_t seed, const std::uint64_t* index, Keys32<W>& key) {
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < W / 2; ++l)
      key.half[h][l] = Mode == Rounding::Stochastic ? stream_key(seed, index[h * (W / 2) + l]) : 0;
}

// The random bits of step `step` for W lanes (zero unless stochastic).
template <Rounding Mode, int W>
__attribute__((always_inline)) inline void random32(const Keys32<W>& key, std::uint64_t step, int nbits,
                                                    Random32<W>& rnd) {
  for (int h = 0; h < 2; ++h) {
    rnd.half[h] = typename V<W / 2>::u{};
    if constexpr (Mode == Rounding::Stochastic) random_bits<W / 2>(key.half[h], step, nbits, rnd.half[h]);
  }
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
  const Vi nonzero = lo != 0;
  odd = (Vi)((hb + (Vu)(opposite & nonzero)) | (Vu)(nonzero & 1));
  const Vi c_bits = (Vi)(((Vu)odd & exponent_field) + (Vu)(Vi{} + grid.rne_offset));
  const Vf c = (Vf)(c_bits > grid.rne_c_min ? c_bits : grid.rne_c_min);
  const Vf rounded = ((Vf)odd + c) - c;
  sum = (Vf)((Vu)rounded | ((Vu)odd & sign_bit));  // the sign of a zero result
}
