// Included by target-inl.hpp once per instruction set, inside namespace
// mpcore::cpu::simd::<target> and under that target's #pragma (no include guard).
// One rounded addition in binary64 lanes (the method: dispatch.hpp, rounding.hpp).
//
// hi + lo = a + b exactly (TwoSum), then one rounding of the exact sum:
//   - nearest even: round to odd, then add and subtract a constant (helpers-inl.hpp);
//   - the other modes: the magnitude bits m of hi, less one where lo points toward zero,
//     place the exact value in [val(m), val(m+1)) (strictly inside where lo != 0), and the
//     target's grid is a mask of m's low bits (decision-inl.hpp decides), widened by one
//     bit per binade below 2^emin; below twice the smallest subnormal q, compares decide.
// Lanes the vector code cannot finish are marked `special` for the exact scalar add_rounded
// (zero with a sign rule, overflow, inf/NaN, stochastic rounding that needs bits of lo).
// Magnitudes stay below 2^63, so signed compares (which AVX2 has) are exact.

// Stochastic rounding: whether the lanes round up, rnd < floor(fraction * 2^nbits) as
// round_sum decides: the remainder's bits, and where nbits > dd the next `left` bits from
// lo, floor(t) for lo of hi's sign, else 2^left - ceil(t), with t = |lo| / ulp(m) * 2^left
// (a power-of-two scaling, exact). Marks the lanes whose scaling leaves binary64's range.
// RemOnly (grid.sr_rem_only): nbits <= dd in every lane, so the fraction is rem's top bits.
template <int W, bool RemOnly>
__attribute__((always_inline)) inline typename V<W>::i stochastic_up64(
    const typename V<W>::u& m, const typename V<W>::u& hb, const typename V<W>::u& lb, const typename V<W>::i& sticky,
    const typename V<W>::i& dd, const typename V<W>::u& rem, const typename V<W>::u& rnd, const Float64Grid& grid,
    typename V<W>::i& special) {
  typedef typename V<W>::d vd;
  typedef typename V<W>::u vu;
  typedef typename V<W>::i vi;
  if constexpr (RemOnly) return (vi)rnd < (vi)(rem >> (vu)(dd - grid.nbits));  // both below 2^52
  const vi field_eff = (vi)(m >> 52) - (vi)((m >> 52) == 0);  // max(field, 1): compares give -1
  const vi right = dd - grid.nbits, left = grid.nbits - dd;
  const vi more = left > 0;
  const vi left0 = left & more;
  // 2^(left - ulp exponent of m); out of binary64's range the lane is special (below).
  const vd scale = (vd)((vu)(2098 + left0 - field_eff) << 52);
  const vd t = (vd)(lb & 0x7fffffffffffffffull) * scale;  // in [0, 2^(left-1)]
  const vd magic = vd{} + 4503599627370496.0;             // 2^52: t + 2^52 rounds t to an integer
  const vd nearest = (t + magic) - magic;
  const vi t_int = (vi)((vu)(t + magic) - (vu)magic);
  const vi floor_t = t_int + (nearest > t), ceil_t = t_int - (nearest < t);  // compares give -1
  const vi opposite = sticky & -(vi)((hb ^ lb) >> 63);
  const vi extra = (opposite & (((vi{} + 1) << left0) - ceil_t)) | (~opposite & floor_t);
  const vu frac = ((rem >> (vu)(right & ~more)) << (vu)left0) | (vu)(extra & more & sticky);  // lo = 0: no bits (t may be NaN)
  special |= sticky & more & (field_eff < 52 + left0);  // the scale would leave binary64's range
  return (vi)rnd < (vi)frac;                            // both below 2^52
}

// The magnitude below 2q (q the smallest subnormal), where the candidates are 0, q and 2q:
// the exact value lies in [val(m), val(m+1)), strictly inside if sticky.
template <Rounding Mode, int W>
__attribute__((always_inline)) inline typename V<W>::u tiny_magnitude64(const typename V<W>::i& mi,
                                                                        const typename V<W>::i& sticky,
                                                                        const typename V<W>::i& negative,
                                                                        const Float64Grid& grid) {
  typedef typename V<W>::i vi;
  TinyPosition<vi> t;
  t.nonzero = (mi != 0) | sticky;
  t.from_half_q = mi >= grid.half_q_bits;
  t.above_half_q = (mi > grid.half_q_bits) | ((mi == grid.half_q_bits) & sticky);
  t.from_q = mi >= grid.q_bits;
  t.above_q = (mi > grid.q_bits) | ((mi == grid.q_bits) & sticky);
  t.from_three_half_q = mi >= grid.three_half_q_bits;
  t.negative = negative;
  vi to_q, to_2q;
  tiny_rounding<Mode>(t, to_q, to_2q);
  return (typename V<W>::u)(to_2q ? grid.two_q_bits : (to_q & grid.q_bits));
}

// Stochastic rounding below 2q (q the smallest subnormal; sr_rem_only grids), where the
// candidates are 0, q and 2q: with X = |hi| / q * 2^nbits (a power-of-two scaling, exact,
// below 2^(nbits+1)) and L = lo / q * 2^nbits of hi's sign or not, floor(X + L) =
// floor(X) - [X an integer and L < 0] (X is a multiple of ulp(X) and |L| <= ulp(X) / 2),
// whose bits above nbits say 0 or q and whose low nbits are the fraction compared with rnd.
template <int W>
__attribute__((always_inline)) inline typename V<W>::u stochastic_tiny64(const typename V<W>::u& hb,
                                                                        const typename V<W>::u& lb,
                                                                        const typename V<W>::i& sticky,
                                                                        const typename V<W>::u& rnd,
                                                                        const Float64Grid& grid) {
  typedef typename V<W>::d vd;
  typedef typename V<W>::u vu;
  typedef typename V<W>::i vi;
  const vd x = ((vd)(hb & 0x7fffffffffffffffull) * grid.sr_inv_q) * grid.sr_two_nbits;
  const vd magic = vd{} + 4503599627370496.0;  // 2^52: x + 2^52 rounds x to an integer
  const vd nearest = (x + magic) - magic;
  const vi below = sticky & -(vi)((hb ^ lb) >> 63);  // lo points toward zero
  const vi whole = (vi)((vu)(x + magic) - (vu)magic) + (nearest > x) + ((nearest == x) & below);
  const vi count = whole >> grid.nbits;  // 0: base 0, 1: base q
  const vi up = (vi)rnd < (whole & (((vi{} + 1) << grid.nbits) - 1));
  const vi to = count - up;  // up is -1: candidates counted 0, 1, 2
  return (vu)(to == 0 ? vi{} : (to == 1 ? vi{} + grid.q_bits : vi{} + grid.two_q_bits));
}

// Stochastic rounding where grid.sr_offset holds (the remainder decides, the format has
// subnormals), every lane with the normal range's spacing: below 2^emin the grid's spacing is
// q, as in the binade [2^emin, 2^(emin+1)), and 2^emin is a point of both, so the exact value
// moved up by 2^emin sits at the same fraction of its spacing, and rounding it with the same
// random bits, then taking 2^emin off (exact: multiples of q, at most 2^emin), gives the bits
// of rounding it where it is. A lane is moved where its m (|hi|, less one where lo points
// toward zero) lies below 2^emin: hi = 2^emin with lo below it too. moved = 2^emin + |hi|;
// where that is inexact (|hi| with bits below 2^(emin - 52)), its error err = |hi| -
// (moved - 2^emin) is exact (Fast2Sum, 2^emin > |hi|), at most half an ulp of the binade the
// exact sum lies in, and |lo| <= ulp(hi) / 2, at most a quarter of it, so the exact value is
// moved + (err + lo) with |err + lo| below the ulp on the side it points to (moved rounded up
// to 2^(emin+1) included): the sign and nonzero-ness of the rounded err + lo (exact
// properties of a binary64 sum) place it in [val(m), val(m + 1)) as lo does unmoved. The
// remainder of m below the spacing 2^shift then decides as stochastic_up64 does. Returns the
// magnitude bits; marks the lanes past max_finite (overflow, non-finite sums).
template <int W>
__attribute__((always_inline)) inline typename V<W>::u stochastic_offset64(
    const typename V<W>::u& hb, const typename V<W>::u& lb, const typename V<W>::u& sign,
    const typename V<W>::i& sticky, const typename V<W>::u& rnd, const Float64Grid& grid,
    typename V<W>::i& special) {
  typedef typename V<W>::d vd;
  typedef typename V<W>::u vu;
  typedef typename V<W>::i vi;
  const vu magnitude = hb ^ sign;
  const vu toward = (vu)sticky & ((hb ^ lb) >> 63);  // 1 where lo points toward zero
  const vi below = (vi)(magnitude - toward) < grid.emin_bits;
  const vd offset = (vd)(below & grid.emin_bits);
  const vd moved = offset + (vd)magnitude;
  const vd back = moved - offset;  // exact
  vu m = (vu)moved - toward;
  if (any_lane(back != (vd)magnitude)) {  // rare but in formats like fp8 (pairwise leaves)
    const vd lo_moved = ((vd)magnitude - back) + (vd)(lb ^ sign);  // err + lo, relative to |hi|
    const vu lmb = (vu)lo_moved;
    m = (vu)moved - ((vu)((vi)(lmb << 1) != 0) & (lmb >> 63));
  }
  const vu unit = vu{} + (std::uint64_t{1} << grid.shift);
  const vu rem = m & (unit - 1);
  const vi up = (vi)rnd < (vi)(rem >> (grid.shift - grid.nbits));  // both below 2^52
  const vu rounded = (vu)((vd)((m - rem) + ((vu)up & unit)) - offset);
  special |= (vi)rounded > grid.max_bits;
  return rounded;
}

// sum = round(a + b) in every lane (sum may be a or b); marks in `special` the lanes the
// exact scalar add_rounded must redo. rnd: the random bits (stochastic rounding only).
// Exact: the caller knows a + b is exact in binary64, so lo = 0.
// SrRemOnly: stochastic rounding where grid.sr_rem_only (stochastic_up64).
template <Rounding Mode, int W, bool Exact = false, bool SrRemOnly = false>
__attribute__((always_inline)) inline void add64(const typename V<W>::d& a, const typename V<W>::d& b,
                                                 const typename V<W>::u& rnd, const Float64Grid& grid,
                                                 typename V<W>::i& special, typename V<W>::d& sum) {
  typedef typename V<W>::d vd;
  typedef typename V<W>::u vu;
  typedef typename V<W>::i vi;
  vd hi, lo;
  two_sum<Exact>(a, b, hi, lo);
  const vu hb = (vu)hi, lb = (vu)lo;
  if constexpr (Mode == Rounding::NearestEven) {
    // p <= 51 (supports()); c's floor makes its ulp at least q.
    vi odd;
    nearest_even_by_odd<vd, vi, vu>(hi, lo, (vi)(hb ^ lb) < 0, grid, odd, sum);
    const vi magnitude = odd & 0x7fffffffffffffffll;
    // Above max_finite or where c would overflow; below 2^emin without subnormals.
    special |= (magnitude > grid.rne_limit) | ((magnitude < grid.min_bits) & (magnitude != 0));
    return;
  }
  const vu sign = hb & 0x8000000000000000ull;
  const vi sticky = (vi)(lb << 1) != 0;  // lo != 0, as an integer compare
  if constexpr (Mode == Rounding::Stochastic && SrRemOnly) {
    if (grid.sr_offset) {  // every format with subnormals: the spacing is the same in every lane
      sum = (vd)(stochastic_offset64<W>(hb, lb, sign, sticky, rnd, grid, special) | sign);
      return;
    }
  }
  const vu m = (hb ^ sign) - ((vu)sticky & ((hb ^ lb) >> 63));
  // A non-finite TwoSum (an infinite term, or binary64 overflow of a finite sum) leaves lo NaN
  // and m at or just below inf's bits, which round past max_finite (marked below): supports()
  // keeps formats whose top reaches binary64's top binade on the scalar path.
  // Bits to drop: the normal shift, plus the distance below 2^emin in the subnormal range. At
  // binary64's subnormals (field 0, spacing of field 1) dd is off by one, but it is above 51
  // there for every format supports() admits, so those sums are decided by the compares
  // with q, 2q below, not by dd.
  const vi below = grid.emin_field - (vi)(m >> 52);
  const vi dd_raw = grid.shift + (below & (below > 0));
  const vi dd = dd_raw - ((dd_raw - 52) & (dd_raw > 52));  // min(dd_raw, 52): shifts stay defined
  const vu one = vu{} + 1;
  const vu mask = (one << (vu)dd) - 1, half = one << (vu)(dd - 1);
  const vu rem = m & mask, base = m - rem;
  const vi negative = (vi)sign != 0;
  vi up;
  if constexpr (Mode == Rounding::Stochastic) {
    up = stochastic_up64<W, SrRemOnly>(m, hb, lb, sticky, dd, rem, rnd, grid, special);
  } else {
    const vi srem = (vi)rem, shalf = (vi)half;
    GridPosition<vi> g;
    g.inexact = (srem != 0) | sticky;
    g.above_half = (srem > shalf) | ((srem == shalf) & sticky);
    g.tie = (srem == shalf) & ~sticky;
    g.odd = -(vi)((m >> (vu)dd) & 1);
    g.negative = negative;
    up = rounds_away<Mode>(g);
  }
  vu res = base + ((vu)up & (one << (vu)dd));
  // From dd = 52 on the spacing reaches the binade's width: |exact| < 2q.
  const vi tiny = dd_raw > 51;
  if constexpr (Mode != Rounding::Stochastic) {
    res = tiny ? tiny_magnitude64<Mode, W>((vi)m, sticky, negative, grid) : res;
  } else if constexpr (SrRemOnly) {
    if (any_lane(tiny)) res = tiny ? stochastic_tiny64<W>(hb, lb, sticky, rnd, grid) : res;
  } else {
    special |= tiny;
  }
  // The vector path needs a finite result and subnormals only if the format has them.
  // An exact zero sum (m = 0, no lo) comes out as hi's zero, which is right except for
  // the sign rule of rounding downward; a nonzero sum below 2^-1074 (m = 0 with lo) is special.
  const vi zero = (vi)m == 0;
  special |= (((vi)m < grid.min_bits) & ~zero) | ((vi)res > grid.max_bits) | (zero & sticky);
  if constexpr (Mode == Rounding::Downward) special |= zero;
  sum = (vd)(res | sign);
}
