// Included by target-inl.hpp once per instruction set, inside namespace
// mpcore::cpu::simd::<target> and under that target's #pragma (no include guard).
// One rounded addition in binary64 lanes (the method: dispatch.hpp, rounding.hpp).

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
    // As in step32-inl.hpp: round to odd in binary64 (the odd one of the two binary64
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
      to_q = positive ? inexact_nonzero : (vi)(mi >= k.q_bits);  // Clang's compares give long long lanes
      to_2q = positive & above_q;
    } else if constexpr (Mode == Rounding::Downward) {
      to_q = positive ? (vi)(mi >= k.q_bits) : inexact_nonzero;
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
