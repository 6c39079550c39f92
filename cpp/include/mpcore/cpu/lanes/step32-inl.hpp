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
//     rem and lo by integer arithmetic (stochastic_step32; below 2^emin after moving the
//     exact value up by 2^emin, stochastic_step32_offset), or, for a chunk with a lane
//     those steps leave, an exact binary64 comparison (stochastic_step32_widened).
// Overflow and non-finite sums are marked and the chunk is redone exactly (in binary64).
// Rounding downward (the sign rule of an exact zero) stays on the binary64 kernel.

// The target spacing in m, 2^shift: 2^(25 - p) in the normal range, one bit wider per binade
// below 2^emin. From 2^24 on it reaches the binade's width: |exact| < 2q (q the smallest
// subnormal, `tiny`), where the candidates are 0, q and 2q and compares with the m of q/2, q
// and 3q/2 (m is monotone in |exact|) decide, as the mask rounding cannot (shift is then 23,
// only a placeholder).
template <int W>
__attribute__((always_inline)) inline void spacing_in_m(const typename V32<W>::u& m, const Float32Grid& grid,
                                                        typename V32<W>::i& tiny, typename V32<W>::u& shift) {
  typedef typename V32<W>::u vu;
  typedef typename V32<W>::i vi;
  const vi field = (vi)(m >> 24);
  const vi below = grid.emin_field - (field > 1 ? field : 1);
  const vi shift_raw = grid.spacing + (below > 0 ? below : 0);
  tiny = shift_raw > 23;
  shift = (vu)(tiny ? 23 : shift_raw);
}

// Stochastic rounding by integer arithmetic and one binary32 compare (grids.hpp's SrStep:
// Normal, for the format's normal range; Subnormal, down to 2q; Tiny, also below 2q; each
// marks the lanes it leaves to the next step): up iff
// rnd < T = floor(f * 2^nbits), f the exact value's fraction of the spacing above the grid
// point toward zero. The spacing in m is 2^shift (spacing_in_m's; 2^spacing in the normal
// range, which is all Normal decides), and the exact value lies at m - side + e in m's units
// (e = 2 lo / u, u the ulp of m's binade, |e| <= 1, side the sign of lo that m already
// holds), so with rem = m's low `shift` bits, c = rem - side and k = nbits - shift
// (0 <= k <= 23 where the step is usable):
//   T = c * 2^k + floor(e * 2^k), and rnd < T  <=>  D = rnd + 1 - c * 2^k <= e * 2^k
//                                             <=>  D * s <= lo,  s = u * 2^(-k-1)
// (D an integer; lo signed relative to |hi|; s = 2^(field - 24 - k), a normal power of two
// where m >= m_min). D = (rnd_hi - c) * 2^k + rnd_lo + 1 is formed in binary32 with one
// rounding (the product is a power-of-two scaling, exact): exact where |D| <= 2^24, and
// rounding is monotone, so beyond (|rnd_hi - c| >= 2, where |D| > 2^k + 1 and the sign
// decides) the outcome holds. An exact zero (m = 0, lo = 0) has D >= 1 and a positive s (the
// subtraction below wraps), so it never moves. Returns the magnitude bits; marks the lanes
// whose next grid point lies above max_finite (overflow and non-finite sums: the exact step
// decides). Exact (lo = 0, so side = e = 0): T = rem * 2^k, an integer compare.
template <int W, SrStep Step, bool Exact>
__attribute__((always_inline)) inline typename V32<W>::u stochastic_step32(
    const typename V32<W>::f& lo, const typename V32<W>::u& hb, const typename V32<W>::u& m,
    const typename V32<W>::i& side, const Float32Grid& grid, const typename V32<W>::u& rnd,
    typename V32<W>::i& special) {
  typedef typename V32<W>::f vf;
  typedef typename V32<W>::u vu;
  typedef typename V32<W>::i vi;
  static_assert(Step != SrStep::Any && Step != SrStep::Offset, "the widened comparison decides the rest");
  constexpr bool Subnormal = Step != SrStep::Normal, Tiny = Step == SrStep::Tiny;
  if constexpr (Tiny)
    special |= (vi)(m - grid.sr_tiny_mark_lo < grid.sr_tiny_mark_hi - grid.sr_tiny_mark_lo);
  else
    special |= (vi)(m - 1 < (Subnormal ? grid.sr_subnormal_m_min : grid.sr_normal_m_min) - 1);
  vu rem, rnd_hi, low_bits, half_unit, scale_offset;
  vf two_k;
  vi tiny{};
  if constexpr (Subnormal) {  // the spacing per lane (23 for the lanes decided apart)
    vu shift;
    spacing_in_m<W>(m, grid, tiny, shift);
    const vu unit = (vu{} + 1) << shift;
    const vu k = static_cast<std::uint32_t>(grid.nbits) - shift;
    rem = m & (unit - 1);
    rnd_hi = rnd >> k;
    low_bits = rnd - (rnd_hi << k);
    two_k = (vf)((k + 127) << 23);
    scale_offset = (k + 24) << 23;
    half_unit = unit >> 1;
  } else {
    rem = m & grid.sr_rem_mask;
    rnd_hi = rnd >> grid.sr_k;
    low_bits = rnd & grid.sr_low_mask;
    two_k = vf{} + grid.sr_two_k;
    scale_offset = vu{} + grid.sr_scale_offset;
    half_unit = vu{} + grid.sr_half_unit;
  }
  const vu base = (m ^ rem) >> 1;  // the grid point toward zero (bits)
  special |= (vi)base > grid.sr_max_base;
  const vf lo_rel = (vf)((vu)lo ^ (hb & 0x80000000u));  // lo, signed relative to |hi|
  vi up;
  if constexpr (Exact) {  // rnd < rem * 2^k exactly when rnd_hi < rem
    up = rnd_hi < rem;
  } else {
    // With over = rnd_hi - c, D = over * 2^k + low_bits + 1 and |e * 2^k| <= 2^k: over <= -2
    // gives D <= -2^k (up), over >= 1 gives D > 2^k (not up), whatever lo is. Only
    // over in {-1, 0} (probability 2^(1 - nbits + k) per lane) needs the comparison with lo,
    // taken for the whole vector when some lane needs it.
    const vi over = (vi)rnd_hi - ((vi)rem - side);
    up = over < -1;
    if (any_at_most((vu)(over + 1), 1u)) {
      const vf d = __builtin_convertvector(over, vf) * two_k + __builtin_convertvector((vi)low_bits + 1, vf);
      const vf s = (vf)((base - scale_offset) & 0x7f800000u);
      up = d * s <= lo_rel;
    }
  }
  const vu magnitude = up ? base + half_unit : base;  // a masked add on 512-bit vectors
  if constexpr (!Tiny) return magnitude;
  // Below 2q the candidates are 0, q and 2q: with x = |hi| / q * 2^nbits and L = lo / q *
  // 2^nbits (power-of-two scalings, exact; x below 2^(nbits+1), |L| <= ulp(x) / 2, lo signed
  // relative to |hi|), floor(x + L) is floor(x) where x is not an integer (x is a multiple
  // of ulp(x)), else x + floor(L); at or above 2^nbits it picks q over 0, and its low nbits
  // are the fraction compared with rnd. floor(x) is taken in two 16-bit halves (binary32
  // converts only below 2^31), and x + L >= 2^nbits as x - 2^nbits >= -L (exact where it
  // matters: x within a factor 2 of 2^nbits).
  const vf x = ((vf)(hb & 0x7fffffffu) * grid.sr_tiny_scale[0]) * grid.sr_tiny_scale[1];
  const vf l = (lo_rel * grid.sr_tiny_scale[0]) * grid.sr_tiny_scale[1];
  const vi high = __builtin_convertvector(x * 0x1p-16f, vi);
  const vf rest = x - __builtin_convertvector(high, vf) * 65536.0f;  // x mod 2^16, exact
  const vi low = __builtin_convertvector(rest, vi);
  const vi l_trunc = __builtin_convertvector(l, vi);
  const vu l_floor = (vu)l_trunc + (vu)(__builtin_convertvector(l_trunc, vf) > l);  // compares give -1
  const vi integer = __builtin_convertvector(low, vf) == rest;
  const vu fraction = (((vu)high << 16) + (vu)low + ((vu)integer & l_floor)) & grid.sr_nbits_mask;
  const vi at_q = x - grid.sr_two_nbits_f >= -l;
  const vi count = -(at_q + (vi)(rnd < fraction));  // compares give -1: 0, 1 or 2 steps of q
  const vu small = (vu)(count == 0 ? vi{} : (count == 1 ? vi{} + grid.q_bits : vi{} + grid.two_q_bits));
  return tiny ? small : magnitude;
}

// The offset step's value: |hi| + 2^emin (in binary32, rounded or not) in the lanes whose |hi|
// (magnitude_bits) lies below 2^emin, |hi| itself in the others; offset is what was added.
// Returns the lanes below 2^emin.
template <int W>
__attribute__((always_inline)) inline typename V32<W>::i offset_below_emin(const typename V32<W>::u& magnitude_bits,
                                                                           const Float32Grid& grid,
                                                                           typename V32<W>::f& offset,
                                                                           typename V32<W>::f& moved) {
  typedef typename V32<W>::f vf;
  typedef typename V32<W>::i vi;
  const vi below = (vi)magnitude_bits < grid.sr_offset_bits;
  offset = (vf)(below & grid.sr_offset_bits);
  moved = (vf)magnitude_bits + offset;
  return below;
}

// Stochastic rounding below 2^emin by the normal step (SrStep::Offset): below 2^emin the
// format's grid has spacing q, as the binade [2^emin, 2^(emin+1)) has, and 2^emin is a point
// of both, so |exact| + 2^emin lies at the same fraction of its spacing as |exact| does:
// rounding it with the same random bits and taking 2^emin off again (exact: both are
// multiples of q, the difference at most 2^emin) gives the bits of rounding |exact|.
// |hi| + 2^emin is taken in binary32; where that is exact (marked otherwise: |hi| with bits
// below 2^(emin - 23)), |exact| + 2^emin = (|hi| + 2^emin) + lo_rel with
// |lo| <= ulp(hi) / 2 <= ulp(|hi| + 2^emin) / 2 and lo's side unchanged, all the normal step
// asks of its hi and lo. Lanes from 2^emin up are not moved (x - 0 = x). Usable where the
// normal step decides that binade (grid.sr_offset_usable). Returns the magnitude bits.
template <int W>
__attribute__((always_inline)) inline typename V32<W>::u stochastic_step32_offset(
    const typename V32<W>::f& lo, const typename V32<W>::u& hb, const typename V32<W>::i& side,
    const Float32Grid& grid, const typename V32<W>::u& rnd, typename V32<W>::i& special) {
  typedef typename V32<W>::f vf;
  typedef typename V32<W>::u vu;
  typedef typename V32<W>::i vi;
  const vu magnitude_bits = hb & 0x7fffffffu;
  vf offset, moved;
  const vi below = offset_below_emin<W>(magnitude_bits, grid, offset, moved);
  special |= below & (vi)(moved - offset != (vf)magnitude_bits);  // the sum was rounded
  const vu m = ((vu)moved << 1) + (vu)side;
  const vu rounded = stochastic_step32<W, SrStep::Normal, false>(lo, hb, m, side, grid, rnd, special);
  return (vu)((vf)rounded - offset);
}

// Stochastic rounding in every lane (SrStep::Any: what the integer steps leave, and grids
// where they are not usable): up with probability (|exact| - base) / spacing, resolved to
// nbits random bits as
// round_sum does: up iff rnd < floor(D / spacing * 2^nbits), i.e. iff
// (rnd + 1) * spacing * 2^-nbits <= D, with D = |exact| - base. D = (|hi| - base) + lo is
// exact in binary64 (|hi| - base is exact in binary32: both lie within a spacing and an ulp
// of each other; the two parts span fewer than 53 bits), as is the right side. Returns the
// magnitude bits; marks the lanes whose next grid point lies above max_finite (it may be
// binary32's inf, whose spacing would make the comparison meaningless).
template <int W>
__attribute__((always_inline)) inline typename V32<W>::u stochastic_step32_widened(
    const typename V32<W>::f& hi, const typename V32<W>::f& lo, const typename V32<W>::u& m,
    const typename V32<W>::u& unit, const typename V32<W>::i& tiny, const Float32Grid& grid,
    const typename V32<W>::u& rnd, typename V32<W>::i& special) {
  typedef typename V32<W>::f vf;
  typedef typename V32<W>::u vu;
  typedef typename V32<W>::i vi;
  typedef typename V<W / 2>::d vd;
  typedef typename V<W / 2>::u vu_half;
  typedef typename V32<W / 2>::i vi_half;
  typedef typename V32<W / 2>::u vu32_half;
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
  vu32_half rnd_half[2];
  std::memcpy(&rnd_half[0], &rnd, sizeof rnd_half[0]);
  std::memcpy(&rnd_half[1], reinterpret_cast<const char*>(&rnd) + sizeof rnd_half[0], sizeof rnd_half[1]);
  vi_half up_half[2];
  for (int h = 0; h < 2; ++h) {
    const vd D = dd1[h] + dlo[h];
    const vu_half r64 = __builtin_convertvector(rnd_half[h], vu_half);
    const vd r = (vd)(r64 | 0x4330000000000000ull) - 4503599627370496.0 + 1.0;  // rnd + 1, exact
    up_half[h] = __builtin_convertvector(r * (dsp[h] * grid.sr_scale) <= D, vi_half);
  }
  vi up;
  std::memcpy(&up, &up_half[0], sizeof up_half[0]);
  std::memcpy(reinterpret_cast<char*>(&up) + sizeof up_half[0], &up_half[1], sizeof up_half[1]);
  special |= (vi)next_bits > grid.max_bits;
  return up ? next_bits : base_bits;
}

// Stochastic rounding's normal step from hi alone, where hi decides (the fast path of
// stochastic_add32). With m' = 2|hi| (even; the exact value lies at m' + e in m's units,
// |e| <= 1, lo unknown), c' = m' mod 2^spacing and over' = rnd_hi - c', stochastic_step32's
// argument gives: over' <= -2 rounds up from the grid point below m', over' >= 1 stays there,
// whatever lo is, except where c' = 0 and lo < 0 (the exact value lies just below that grid
// point, and the base is the one below it): there the step ends on the same point unless
// rnd_hi is the largest, 2^spacing - 1. So only lanes with over' + 1 in {0, 1, 2^spacing},
// i.e. (over' + 1) mod 2^spacing in {0, 1}, need lo (about 3 in 2^spacing per lane: 2^-13
// for fp16). Returns false, leaving magnitude and special alone, where a lane needs lo.
// Where the grid below m' is finer (|hi| = 2^f, a binade's lower end, lo < 0), the exact value
// is still within 2^(f-25) of 2^f (hi is its rounding to binary32), so T >= 2^nbits - 2^k
// and stepping down needs rnd_hi = 2^spacing - 1 there too; at 2^emin the grid below has the
// same spacing, or none (no subnormals: 0 and 2^emin, the same bound). Marks (in special) m'
// below 2^emin and a base whose next point passes max_finite (where the exact value lies
// below the grid point of m', the base is lower: a superset of stochastic_step32's marks).
// Subnormal and Tiny (SrStep): the spacing per lane (spacing_in_m of m'), where the grid below
// a binade's lower end has the same spacing in value or half of it, as above; nonzero m' below
// stochastic_step32<Subnormal>'s range (sums near 2q and below) are marked by Subnormal and
// sent to the whole step (TwoSum first) by Tiny, which decides them.
// Wide (the normal step only): the exact value may lie up to two units from m' (|e| <= 2: the
// offset step's |hi| + 2^emin rounded in binary32, below). Then over' <= -3 rounds up and
// over' >= 2 does not; c' = 0 with e < 0 steps down only where T <= rnd, T >= 2^nbits - 2^(k+1),
// i.e. rnd_hi >= 2^spacing - 2. So a lane needs lo where over' + 2 is 0, 1, 2 or 3 mod
// 2^spacing (a superset of the cases above). A finer grid below m' occurs there only at
// m' = 2^(emin+1), reached from the largest binary32 below 2^emin, |e| <= 3/4: T >=
// 2^nbits - (3/2) 2^k, the same window.
// Every m' of the offset step is at least 2^emin's (|hi| there, or |hi| + 2^emin), so Wide
// marks none for lying below 2^emin.
// word: the step's random word; rnd_hi (the top `spacing` bits of rnd) is word >> (32 - spacing),
// (word >> (32 - nbits)) >> k in one shift.
template <int W, SrStep Step, bool Wide = false>
__attribute__((always_inline)) inline bool stochastic_step32_from_hi(const typename V32<W>::u& m_even,
                                                                     const Float32Grid& grid,
                                                                     const typename V32<W>::u& word,
                                                                     typename V32<W>::u& magnitude,
                                                                     typename V32<W>::i& special) {
  typedef typename V32<W>::u vu;
  typedef typename V32<W>::i vi;
  static_assert(Step != SrStep::Offset && Step != SrStep::Any, "the normal step's spacing or the lane's");
  static_assert(!Wide || Step == SrStep::Normal, "only the offset step's sums lie two units away");
  if constexpr (Step == SrStep::Normal) {
    const vu rem = m_even & grid.sr_rem_mask;
    const vi over = (vi)(word >> static_cast<std::uint32_t>(32 - grid.spacing)) - (vi)rem;
    if constexpr (Wide) {
      if (any_clear((vu)(over + 2), grid.sr_rem_mask & ~3u)) return false;
    } else {
      if (any_clear((vu)(over + 1), grid.sr_rem_mask & ~1u)) return false;
    }
    const vu base = (m_even ^ rem) >> 1;
    special |= (vi)base > grid.sr_max_base;
    if constexpr (!Wide) {
      const std::uint32_t m_emin = static_cast<std::uint32_t>(grid.emin_field) << 24;
      special |= (vi)(m_even - 1 < m_emin - 1);
    }
    magnitude = over < -1 ? base + grid.sr_half_unit : base;
  } else {
    vi tiny;
    vu shift;
    spacing_in_m<W>(m_even, grid, tiny, shift);
    const vu unit = (vu{} + 1) << shift;
    const vu rem = m_even & (unit - 1);
    const vi over = (vi)(word >> (32u - shift)) - (vi)rem;  // shift <= nbits: rnd >> (nbits - shift)
    const vi near_zero = (vi)(m_even - 1 < grid.sr_subnormal_m_min - 1);
    if constexpr (Step == SrStep::Tiny) {
      if (any_lane((((vu)(over + 1) & (unit - 2)) == 0) | near_zero)) return false;
    } else {
      if (any_clear((vu)(over + 1), unit - 2)) return false;
      special |= near_zero;
    }
    const vu base = (m_even ^ rem) >> 1;
    special |= (vi)base > grid.sr_max_base;
    magnitude = over < -1 ? base + (unit >> 1) : base;
  }
  return true;
}

// Stochastic rounding of a + b by the normal, offset, subnormal or tiny step (sum may be a or b):
// from hi = fl(a + b) alone where it decides every lane (stochastic_step32_from_hi; for the
// offset step, from |hi| + 2^emin in binary32, rounded or not, in the lanes below 2^emin and
// |hi| in the others, with the wide window), else by TwoSum and the step itself for the whole
// vector (whose offset step marks a rounded |hi| + 2^emin). The offset step does not branch
// on whether a lane lies below 2^emin: sums that cross it often mispredicted that branch (stored
// fp8_e4m3, 16-lane AVX-512, one thread, C++ harness: 107 -> 76 ms; fp16 and AVX2 unchanged).
template <int W, SrStep Step>
__attribute__((always_inline)) inline void stochastic_add32(const typename V32<W>::f& a, const typename V32<W>::f& b,
                                                            const Float32Grid& grid, const typename V32<W>::u& word,
                                                            typename V32<W>::i& special, typename V32<W>::f& sum) {
  typedef typename V32<W>::f vf;
  typedef typename V32<W>::u vu;
  typedef typename V32<W>::i vi;
  static_assert(Step != SrStep::Any, "the widened step takes TwoSum first");
  {
    const vu hb = (vu)(a + b);
    if constexpr (Step != SrStep::Offset) {
      const vu sign = hb & 0x80000000u;
      vu magnitude;
      if (stochastic_step32_from_hi<W, Step>(hb << 1, grid, word, magnitude, special)) {
        sum = (vf)(magnitude | sign);
        return;
      }
    } else {
      // hi's sign goes back by one and-or on the way out (AVX-512: one vpternlogd).
      vf offset, moved;
      offset_below_emin<W>(hb & 0x7fffffffu, grid, offset, moved);
      vu magnitude;
      // |hi| + 2^emin may be rounded: the exact value moved up lies within two units of it.
      if (stochastic_step32_from_hi<W, SrStep::Normal, true>((vu)moved << 1, grid, word, magnitude, special)) {
        sum = (vf)((vu)((vf)magnitude - offset) | (hb & 0x80000000u));
        return;
      }
    }
  }
  vf hi, lo;
  two_sum<false>(a, b, hi, lo);
  const vu hb = (vu)hi;
  const vi opposite = (vi)(hb ^ (vu)lo) >> 31;  // -1 where lo's sign differs from hi's
  const vi side = (opposite | 1) & (lo != 0);   // sign of (exact - hi) relative to |hi|
  const vu rnd = word >> static_cast<std::uint32_t>(32 - grid.nbits);
  vu magnitude;
  if constexpr (Step != SrStep::Offset)
    magnitude = stochastic_step32<W, Step, false>(lo, hb, (hb << 1) + (vu)side, side, grid, rnd, special);
  else
    magnitude = stochastic_step32_offset<W>(lo, hb, side, grid, rnd, special);
  sum = (vf)(magnitude | (hb & 0x80000000u));
}

// add32 by TwoSum and one rounding of the exact sum: every mode but stochastic rounding's
// steps that stochastic_add32 takes.
template <Rounding Mode, int W, bool Exact, SrStep Step>
__attribute__((always_inline)) inline void two_sum_add32(const typename V32<W>::f& a, const typename V32<W>::f& b,
                                                         const Float32Grid& grid, const typename V32<W>::u& word,
                                                         typename V32<W>::i& special, typename V32<W>::f& sum) {
  typedef typename V32<W>::f vf;
  typedef typename V32<W>::u vu;
  typedef typename V32<W>::i vi;
  static_assert(Mode != Rounding::Stochastic || Step != SrStep::Offset, "the offset step is stochastic_add32's");
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
  vu magnitude;
  if constexpr (Mode == Rounding::Stochastic) {
    const vu rnd = word >> static_cast<std::uint32_t>(32 - grid.nbits);
    if constexpr (Step != SrStep::Any) {
      magnitude = stochastic_step32<W, Step, Exact>(lo, hb, m, side, grid, rnd, special);
    } else {
      vi tiny;
      vu shift;
      spacing_in_m<W>(m, grid, tiny, shift);
      magnitude = stochastic_step32_widened<W>(hi, lo, m, (vu{} + 1) << shift, tiny, grid, rnd, special);
    }
  } else {
    vi tiny;
    vu shift;
    spacing_in_m<W>(m, grid, tiny, shift);
    const vu unit = (vu{} + 1) << shift;  // target spacing in m
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

// sum = round(a + b) in every lane (sum may be a or b); marks in `special` the lanes
// whose result the exact binary64 path must give instead (overflow, non-finite).
// Exact: the caller knows a + b is exact in binary32 (a leaf 0 + p), so lo = 0.
// Step (stochastic rounding only): which decision (grids.hpp's SrStep, usable for the grid);
// the steps before Any also mark the lanes they cannot decide, which the caller redoes with
// a later step first (the exact scalar step only for what Any marks).
// Vectors go by reference: by value they would change the ABI across target boundaries.
// word: the step's random word, its top nbits bits the random bits (stochastic rounding only).
// Stochastic rounding's steps before Any go to stochastic_add32 (from hi alone where that
// decides), leaves (Exact) only in the offset step, which decides a rounded |p| + 2^emin that
// the exact step would mark; the other steps' leaves compare integers (stochastic_step32).
// (Offset leaves took stochastic_add32 only where a lane lay below 2^emin, a branch that products
// near 2^emin mispredicted: stored inputs, pairwise, AVX-512, one thread, C++ harness: fp16
// 180 -> 164 ms, fp8_e4m3 171 -> 161; the same bits.)
template <Rounding Mode, int W, bool Exact = false, SrStep Step = SrStep::Normal>
__attribute__((always_inline)) inline void add32(const typename V32<W>::f& a, const typename V32<W>::f& b,
                                                 const Float32Grid& grid, const typename V32<W>::u& word,
                                                 typename V32<W>::i& special, typename V32<W>::f& sum) {
  static_assert(Mode != Rounding::Downward, "rounding downward uses the binary64 kernel");
  if constexpr (Mode == Rounding::Stochastic && Step != SrStep::Any && (!Exact || Step == SrStep::Offset))
    stochastic_add32<W, Step>(a, b, grid, word, special, sum);
  else
    two_sum_add32<Mode, W, Exact, Step>(a, b, grid, word, special, sum);
}
