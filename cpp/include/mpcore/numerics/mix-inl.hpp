// The random streams' arithmetic, written once for a word (random.hpp) and for vectors of
// words (the lane kernels): SplitMix64's finaliser (64-bit words: the per-output key),
// MurmurHash3's fmix32 (32-bit words: each step's random bits; both are bijections with
// full avalanche) and the word of one step.
//
// No include guard: included inside namespace mpcore by random.hpp and inside each
// instruction set's namespace by cpu/lanes/target-inl.hpp, so the vector copy is compiled
// for its kernel's target (see decision-inl.hpp).
template <class Word>
MPCORE_HD MPCORE_FORCE_INLINE void mix64_in_place(Word& z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z = z ^ (z >> 31);
}

template <class Word>
MPCORE_HD MPCORE_FORCE_INLINE void mix32_in_place(Word& z) {
  z = (z ^ (z >> 16)) * 0x85ebca6bu;
  z = (z ^ (z >> 13)) * 0xc2b2ae35u;
  z = z ^ (z >> 16);
}

// The word of step `step` from the key's halves: a Weyl sequence offset by the low half,
// xored with the high half, finalised by fmix32 (all arithmetic modulo 2^32).
template <class Word>
MPCORE_HD MPCORE_FORCE_INLINE Word stream_word(const Word& key_lo, const Word& key_hi, std::uint64_t step) {
  Word z = (key_lo + static_cast<std::uint32_t>(step + 1) * kGolden32) ^ key_hi;
  mix32_in_place(z);
  return z;
}
