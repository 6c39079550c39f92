// The decision of one correct rounding, written once for every container.
//
// No include guard: it is included once per container namespace, inside namespace mpcore
// by rounding.hpp for the scalar reference (Mask = bool, host and CUDA device), and inside
// each instruction set's namespace by cpu/lanes/target-inl.hpp (Mask = a vector whose lanes
// are 0 or all ones), so every container rounds by the same rules, each copy compiled for
// its own target (a copy compiled for the baseline would be lowered lane by lane when
// inlined into an AVX-512 kernel).
//
// Each container finds, by its own arithmetic, where the exact value lies relative to
// its two candidates (the grid point toward zero and the next one away from zero, or, below
// twice the smallest subnormal q, the candidates 0, q and 2q); the functions here say which
// candidate the mode takes. Stochastic rounding compares random bits with the fraction
// instead, which each container computes in its own way.

// Logical not of a mask: !b for bool, ~v for vector lanes of 0 or all ones.
MPCORE_HD MPCORE_FORCE_INLINE bool mask_not(bool b) { return !b; }
template <class Mask>
MPCORE_HD MPCORE_FORCE_INLINE Mask mask_not(const Mask& m) {
  return ~m;
}

// Where the exact value lies between the candidates base (toward zero) and base + spacing.
template <class Mask>
struct GridPosition {
  Mask inexact;     // strictly above base
  Mask above_half;  // strictly above the midpoint
  Mask tie;         // exactly at the midpoint
  Mask odd;         // base's last kept digit is odd
  Mask negative;    // the value is negative
};

// Whether the value rounds to base + spacing (away from zero), for every mode but
// stochastic rounding.
template <Rounding Mode, class Mask>
MPCORE_HD MPCORE_FORCE_INLINE Mask rounds_away(const GridPosition<Mask>& g) {
  static_assert(Mode != Rounding::Stochastic, "stochastic rounding compares random bits with the fraction");
  if constexpr (Mode == Rounding::NearestEven) return g.above_half | (g.tie & g.odd);
  if constexpr (Mode == Rounding::NearestAway) return g.above_half | g.tie;
  if constexpr (Mode == Rounding::TowardZero) return Mask{};
  if constexpr (Mode == Rounding::Upward) return g.inexact & mask_not(g.negative);
  if constexpr (Mode == Rounding::Downward) return g.inexact & g.negative;
  if constexpr (Mode == Rounding::ToOdd) return g.inexact & mask_not(g.odd);
}

// Below 2q, where the spacing reaches the binade's width and the candidates are 0, q and
// 2q: where the magnitude lies relative to q/2, q and 3q/2.
template <class Mask>
struct TinyPosition {
  Mask nonzero;                // above 0
  Mask from_half_q;            // at least q/2
  Mask above_half_q;           // above q/2
  Mask from_q;                 // at least q
  Mask above_q;                // above q
  Mask from_three_half_q;      // at least 3q/2
  Mask negative;               // the value is negative
};

// The magnitude the mode takes below 2q: to_2q, else to_q, else zero.
template <Rounding Mode, class Mask>
MPCORE_HD MPCORE_FORCE_INLINE void tiny_rounding(const TinyPosition<Mask>& t, Mask& to_q, Mask& to_2q) {
  static_assert(Mode != Rounding::Stochastic, "stochastic rounding compares random bits with the fraction");
  if constexpr (Mode == Rounding::NearestEven) {
    to_q = t.above_half_q;
    to_2q = t.from_three_half_q;  // the tie at 3q/2 goes to the even 2q
  } else if constexpr (Mode == Rounding::NearestAway) {
    to_q = t.from_half_q;
    to_2q = t.from_three_half_q;
  } else if constexpr (Mode == Rounding::TowardZero) {
    to_q = t.from_q;
    to_2q = Mask{};
  } else if constexpr (Mode == Rounding::Upward) {
    to_q = (t.negative & t.from_q) | (mask_not(t.negative) & t.nonzero);
    to_2q = mask_not(t.negative) & t.above_q;
  } else if constexpr (Mode == Rounding::Downward) {
    to_q = (mask_not(t.negative) & t.from_q) | (t.negative & t.nonzero);
    to_2q = t.negative & t.above_q;
  } else {
    to_q = t.nonzero;  // to odd: q is odd, every inexact magnitude below 2q rounds to q
    to_2q = Mask{};
  }
}
