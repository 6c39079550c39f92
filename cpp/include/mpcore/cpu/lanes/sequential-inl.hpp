// Included by target-inl.hpp once per instruction set, inside namespace
// mpcore::cpu::simd::<target> and under that target's #pragma (no include guard).
// The sequential order in the lanes: each lane adds its terms in order, chunk by chunk;
// a chunk in which a lane met a special case is redone exactly for that lane.

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

// kWidth outputs: out[l] = the sequential accumulation of panel[j*kWidth + l] * xr[j], j < n.
// step0: the stochastic-rounding step number of term 0 (a block of a longer sum starts later).
template <Rounding Mode, int W>
__attribute__((always_inline)) inline void lanes32_body(const float* xr, const float* panel, std::size_t n,
                                                        const Rounder& R, std::uint64_t seed,
                                                        const std::uint64_t* index, double* out, std::uint64_t step0) {
  typedef typename V32<W>::f vf;
  typedef typename V32<W>::i vi;
  constexpr int G = static_cast<int>(kWidth) / W;
  const Float32Grid k = float32_grid(R);
  Rounder r = R;
  r.mode = Mode;
  Keys32<W> key[G];
  for (int g = 0; g < G; ++g) keys32<Mode, W>(seed, index + g * W, key[g]);
  vf s[G];
  for (int g = 0; g < G; ++g) s[g] = vf{};
  for (std::size_t j0 = 0; j0 < n; j0 += kChunk) {
    const std::size_t j1 = j0 + kChunk < n ? j0 + kChunk : n;
    // One mark per lane position for all groups (fewer registers): a marked position is
    // redone in every group, which is exact too.
    vf start[G];
    vi special = vi{};
    for (int g = 0; g < G; ++g) start[g] = s[g];
    for (std::size_t j = j0; j < j1; ++j) {
      const float xj = xr[j];
      for (int g = 0; g < G; ++g) {
        vf p;
        std::memcpy(&p, panel + j * kWidth + g * W, sizeof p);
        p *= xj;  // exact (the caller proved it)
        ::mpcore::detail::opaque(p);
        Random32<W> rnd;
        random32<Mode, W>(key[g], j + step0, k.nbits, rnd);
        add32<Mode, W>(s[g], p, k, rnd, special, s[g]);
      }
    }
    bool some = false;
    for (int l = 0; l < W; ++l) some |= special[l] != 0;
    if (some) {  // rare: redo the chunk exactly (in binary64) for the lanes that met a special case
      for (std::size_t lane = 0; lane < kWidth; ++lane) {
        const int g = static_cast<int>(lane) / W, l = static_cast<int>(lane) % W;
        if (!special[l]) continue;
        const std::uint64_t lane_key = Mode == Rounding::Stochastic ? stream_key(seed, index[lane]) : 0;
        double v = start[g][l];
        for (std::size_t j = j0; j < j1; ++j)
          v = add_rounded(v, ::mpcore::detail::unfused_mul(static_cast<double>(panel[j * kWidth + lane]), static_cast<double>(xr[j])), r,
                          Mode == Rounding::Stochastic ? stream_bits(lane_key, j + step0) : 0);
        // A value of the format (exact in binary32), or an infinity or NaN, which binary32
        // carries too: the next step marks the lane again and this loop keeps it exact.
        s[g][l] = static_cast<float>(v);
      }
    }
  }
  for (std::size_t lane = 0; lane < kWidth; ++lane) out[lane] = s[lane / W][lane % W];
}
