// SplitMix64's finaliser, a bijection of 64-bit words with full avalanche, written once
// for a word (random.hpp) and for vectors of words (the lane kernels).
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
