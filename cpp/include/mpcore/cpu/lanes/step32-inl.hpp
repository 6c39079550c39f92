// Included by target-inl.hpp once per instruction set, inside namespace
// mpcore::cpu::simd::<target> and under that target's #pragma (no include guard).
// The simulated-accumulation lane kernel in a binary32 container: twice the lanes of
// the binary64 kernel per vector (8 with AVX2, 16 with AVX-512), for accumulator formats
// that binary32 holds with two bits to spare (p <= 22, exponents inside binary32's normal
// range) and inputs whose products are exact in binary32 (proved by float32_exact.hpp).
//
// One step for each lane: hi + lo = s + w*x exactly (TwoSum in binary32), then one
// rounding of the exact sum to the format:
//   - nearest even: round to odd in binary32, then add and subtract a constant
//     (helpers-inl.hpp);
//   - the other modes: doubling the magnitude bits and adding the sign of lo relative to
//     hi, m = 2|hi| +- 1, places the exact value strictly between two binary32 numbers
//     whenever lo != 0 (TwoSum's |lo| < ulp(hi) on that side); the target's grid points and
//     midpoints are binary32 numbers, i.e. even in m, so m is rounded as an integer and
//     ties are only real ties (lo = 0). The spacing in m is 2^(25 - p), widened by one bit
//     per binade below 2^emin (decision-inl.hpp decides); below 2q (q the smallest
//     subnormal) compares decide;
//   - stochastic: the truncation and the next grid point come from m, the decision from
//     an exact binary64 comparison that includes lo (stochastic_step32).
// Overflow and non-finite sums are marked and the chunk is redone exactly (in binary64).
// Rounding downward (the sign rule of an exact zero) stays on the binary64 kernel.

// Stochastic rounding of m = 2|hi| +- 1 (lanes below 2q: tiny): up with probability
// (|exact| - base) / spacing, resolved to nbits random bits as round_sum does: up iff
// rnd < floor(D / spacing * 2^nbits), i.e. iff (rnd + 1) * spacing * 2^-nbits <= D, with
// D = |exact| - base. D = (|hi| - base) + lo is exact in binary64 (|hi| - base is exact in
// binary32: both lie within a spacing and an ulp of each other; the two parts span fewer
// than 53 bits), as is the right side. Returns the magnitude bits; marks the lanes whose
// next grid point lies above max_finite (it may be binary32's inf, whose spacing would make
// the comparison meaningless): the exact step decides there.
template <int W>
__attribute__((always_inline)) inline typename V32<W>::u stochastic_step32(
    const typename V32<W>::f& hi, const typename V32<W>::f& lo, const typename V32<W>::u& m,
    const typename V32<W>::u& unit, const typename V32<W>::i& tiny, const Float32Grid& grid, const Random32<W>& rnd,
    typename V32<W>::i& special) {
  typedef typename V32<W>::f vf;
  typedef typename V32<W>::u vu;
  typedef typename V32<W>::i vi;
  typedef typename V<W / 2>::d vd;
  typedef typename V32<W / 2>::i vi_half;
  const vu hb = (vu)hi;
  const vu down = m & ~(unit - 1);  // toward zero
  const vi at_least_q = (vi)m >= grid.m_q;
  const vu base_bits = tiny ? (vu)(at_least_q & grid.q_bits) : down >> 1;
  const vu next_bits = tiny ? (vu)(at_least_q ? grid.two_q_bits : grid.q_bits) : (down + unit) >> 1;
  const vf base = (vf)base_bits, next = (vf)next_bits;
  const vf d1 = (vf)(hb & 0x7fffffffu) - base;          // exact
  const vf lo_rel = (vf)((vu)lo ^ (hb & 0x80000000u));  // lo, signed relative to |hi|
  const vf spacing_f = next - base;                     // exact
  vd dd1[2], dlo[2], dsp[2];
  widen<W>(d1, dd1);
  widen<W>(lo_rel, dlo);
  widen<W>(spacing_f, dsp);
  vi_half up_half[2];
  for (int h = 0; h < 2; ++h) {
    const vd D = dd1[h] + dlo[h];
    const vd r = (vd)(rnd.half[h] | 0x4330000000000000ull) - 4503599627370496.0 + 1.0;  // rnd + 1, exact
    up_half[h] = __builtin_convertvector(r * (dsp[h] * grid.sr_scale) <= D, vi_half);
  }
  vi up;
  if constexpr (W == 4) {
    up = __builtin_shufflevector(up_half[0], up_half[1], 0, 1, 2, 3);
  } else if constexpr (W == 8) {
    up = __builtin_shufflevector(up_half[0], up_half[1], 0, 1, 2, 3, 4, 5, 6, 7);
  } else {
    up = __builtin_shufflevector(up_half[0], up_half[1], 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  }
  special |= (vi)next_bits > grid.max_bits;
  return up ? next_bits : base_bits;
}

// sum = round(a + b) in every lane (sum may be a or b); marks in `special` the lanes
// whose result the exact binary64 path must give instead (overflow, non-finite).
// Exact: the caller knows a + b is exact in binary32 (a leaf 0 + p), so lo = 0.
// Vectors go by reference: by value they would change the ABI across target boundaries.
// rnd: the random bits (stochastic rounding only).
template <Rounding Mode, int W, bool Exact = false>
__attribute__((always_inline)) inline void add32(const typename V32<W>::f& a, const typename V32<W>::f& b,
                                                 const Float32Grid& grid, const Random32<W>& rnd,
                                                 typename V32<W>::i& special, typename V32<W>::f& sum) {
  static_assert(Mode != Rounding::Downward, "rounding downward uses the binary64 kernel");
  typedef typename V32<W>::f vf;
  typedef typename V32<W>::u vu;
  typedef typename V32<W>::i vi;
  vf hi, lo;
  two_sum<Exact>(a, b, hi, lo);
  const vu hb = (vu)hi;
  const vi opposite = (vi)(hb ^ (vu)lo) >> 31;  // -1 where lo's sign differs from hi's
  if constexpr (Mode == Rounding::NearestEven) {
    // p <= 22 (supports_float32()); c's floor makes its ulp at least q.
    vi odd;
    nearest_even_by_odd<vf, vi, vu>(hi, lo, opposite, grid, odd, sum);
    special |= (odd & 0x7fffffff) > grid.rne_limit;  // above max_finite, or c would overflow
    return;
  }
  // The other modes round m = 2|hi| +- 1 as an integer (see the top of this file).
  // A non-finite TwoSum (binary32 overflow of a finite sum) leaves lo NaN and m within one
  // of 0xff000000: every mode below then rounds to max_finite (the right clamp for rtz, rto
  // and rup of a negative sum) or marks the lane (a magnitude, or SR's next point, past it).
  const vi side = (opposite | 1) & (lo != 0);  // sign of (exact - hi) relative to |hi|
  const vu m = (hb << 1) + (vu)side;
  const vi field = (vi)(m >> 24);
  const vi below = grid.emin_field - (field > 1 ? field : 1);
  const vi shift_raw = grid.spacing + (below > 0 ? below : 0);
  // From 24 on, the spacing reaches the binade's width: |exact| < 2q (q the smallest
  // subnormal) and the candidates are 0, q and 2q; compares with the m of q/2, q and
  // 3q/2 (m is monotone in |exact|) decide, as the mask rounding cannot.
  const vi tiny = shift_raw > 23;
  const vi shift = tiny ? 23 : shift_raw;
  const vu unit = (vu{} + 1) << (vu)shift;  // target spacing in m
  vu magnitude;
  if constexpr (Mode == Rounding::Stochastic) {
    magnitude = stochastic_step32<W>(hi, lo, m, unit, tiny, grid, rnd, special);
  } else {
    const vu mask = unit - 1, rem = m & mask, half = unit >> 1;
    const vi mi = (vi)m, negative = (vi)hb < 0;
    // Grid points and midpoints are even in m, so an odd m is never a tie.
    GridPosition<vi> g;
    g.inexact = rem != 0;
    g.above_half = (vi)rem > (vi)half;
    g.tie = rem == half;
    g.odd = (m & unit) != 0;
    g.negative = negative;
    const vu rounded = (m & ~mask) + ((vu)rounds_away<Mode>(g) & unit);
    TinyPosition<vi> t;
    t.nonzero = mi != 0;
    t.from_half_q = mi >= grid.m_half_q;
    t.above_half_q = mi > grid.m_half_q;
    t.from_q = mi >= grid.m_q;
    t.above_q = mi > grid.m_q;
    t.from_three_half_q = mi >= grid.m_three_half_q;
    t.negative = negative;
    vi to_q, to_2q;
    tiny_rounding<Mode>(t, to_q, to_2q);
    const vi small = to_2q ? grid.two_q_bits : (to_q & grid.q_bits);
    magnitude = tiny ? (vu)small : rounded >> 1;
    special |= (vi)magnitude > grid.max_bits;
  }
  sum = (vf)(magnitude | (hb & 0x80000000u));
}
