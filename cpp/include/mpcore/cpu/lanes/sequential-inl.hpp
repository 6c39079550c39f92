// Included by target-inl.hpp once per instruction set, inside namespace
// mpcore::cpu::simd::<target> and under that target's #pragma (no include guard).
// The sequential order in the lanes: each lane adds its terms in order, chunk by chunk;
// a chunk in which a lane met a special case is redone exactly for that lane.

// Lanes outputs (the first Lanes of the panel's kWidth): out[l] = the sequential accumulation
// of panel[j*kWidth + l] * xr[j], j < n.
// step0: the stochastic-rounding step number of term 0 (a block of a longer sum starts later).
// SrRemOnly: stochastic rounding where the grid's sr_rem_only holds (add64).
template <Rounding Mode, int W, class T, bool SrRemOnly = false, int Lanes = static_cast<int>(kWidth)>
__attribute__((always_inline)) inline void lanes_body(const T* xr, const T* panel, std::size_t n, const Rounder& R,
                                                      std::uint64_t seed, const std::uint64_t* index, double* out,
                                                      std::uint64_t step0) {
  typedef typename V<W>::d vd;
  typedef typename V<W>::u vu;
  typedef typename V<W>::i vi;
  static_assert(Lanes % W == 0 && Lanes <= static_cast<int>(kWidth), "whole vectors of the panel");
  constexpr int G = Lanes / W;
  const Float64Grid grid = float64_grid(R);
  Keys<W> key[G];
  vd s[G];
  for (int g = 0; g < G; ++g) {
    s[g] = vd{};
    stream_keys<Mode, W>(seed, index + g * W, key[g]);
  }
  Rounder r = R;
  r.mode = Mode;
  for (std::size_t j0 = 0; j0 < n; j0 += kChunk<Mode>) {
    const std::size_t j1 = j0 + kChunk<Mode> < n ? j0 + kChunk<Mode> : n;
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
        opaque(p);  // never fused into the TwoSum below
        vu rnd;
        random64<Mode, W>(key[g], j + step0, static_cast<int>(grid.nbits), rnd);
        add64<Mode, W, false, SrRemOnly>(s[g], p, rnd, grid, special[g], s[g]);
      }
    }
    vi any = special[0];
    for (int g = 1; g < G; ++g) any |= special[g];
    bool some = false;
    for (int l = 0; l < W; ++l) some |= any[l] != 0;
    if (some) {  // rare: redo the chunk exactly for the lanes that met a special case
      for (std::size_t lane = 0; lane < static_cast<std::size_t>(Lanes); ++lane) {
        const int g = static_cast<int>(lane) / W, l = static_cast<int>(lane) % W;
        if (!special[g][l]) continue;  // lanes are independent: the others are exact
        double v = start[g][l];
        for (std::size_t j = j0; j < j1; ++j) {
          const double p = ::mpcore::detail::unfused_mul(static_cast<double>(panel[j * kWidth + lane]), static_cast<double>(xr[j]));
          v = add_rounded(v, p, r, Mode == Rounding::Stochastic ? key[g].word(l, j + step0) : 0);
        }
        s[g][l] = v;
      }
    }
  }
  for (std::size_t lane = 0; lane < static_cast<std::size_t>(Lanes); ++lane) out[lane] = s[lane / W][lane % W];
}

// The bias as the last term of `rows` rows of kWidth sums (s, index, out: kWidth entries per
// row; bias: kWidth values, the same for every row): out[r * kWidth + l] = round(s[r * kWidth
// + l] + bias[l]), stochastic rounding with step `step` of that output's stream; lanes the
// vector step marks (zeros below 2^emin without subnormals, overflow, non-finite values) by
// the exact scalar step.
template <Rounding Mode, int W, bool SrRemOnly = false>
__attribute__((always_inline)) inline void bias_body(const double* s, std::size_t rows, const double* bias,
                                                     const Rounder& R, std::uint64_t seed, const std::uint64_t* index,
                                                     std::uint64_t step, double* out) {
  typedef typename V<W>::d vd;
  typedef typename V<W>::u vu;
  typedef typename V<W>::i vi;
  constexpr int G = static_cast<int>(kWidth) / W;
  const Float64Grid grid = float64_grid(R);
  Rounder r = R;
  r.mode = Mode;
  vd b[G];
  for (int g = 0; g < G; ++g) load<W>(bias + g * W, b[g]);
  for (std::size_t row = 0; row < rows; ++row) {
    for (int g = 0; g < G; ++g) {
      const std::size_t at = row * kWidth + static_cast<std::size_t>(g * W);
      Keys<W> key;
      stream_keys<Mode, W>(seed, index + at, key);
      vd a, sum;
      load<W>(s + at, a);
      vu rnd;
      random64<Mode, W>(key, step, static_cast<int>(grid.nbits), rnd);
      vi special{};
      add64<Mode, W, false, SrRemOnly>(a, b[g], rnd, grid, special, sum);
      std::memcpy(out + at, &sum, sizeof sum);
      if (!any_lane(special)) continue;
      for (int l = 0; l < W; ++l)
        if (special[l])
          out[at + l] =
              add_rounded(s[at + l], bias[g * W + l], r, Mode == Rounding::Stochastic ? key.word(l, step) : 0);
    }
  }
}

// Rows x Lanes outputs (the first Lanes of the panel's kWidth; rows kWidth entries apart):
// out[r * kWidth + l] = the sequential accumulation of panel[j*kWidth + l] * xr[r][j], j < n;
// index[r * kWidth + l] is that output's stream.
// Two rows share each panel load and give twice the independent dependency chains (a
// step's latency, not its instruction count, bounds one row on wide vectors).
// step0: the stochastic-rounding step number of term 0 (a block of a longer sum starts later).
template <Rounding Mode, int W, int Rows, int Lanes = static_cast<int>(kWidth)>
__attribute__((always_inline)) inline void lanes32_body(const float* const* xr, const float* panel, std::size_t n,
                                                        const Rounder& R, std::uint64_t seed,
                                                        const std::uint64_t* index, double* out, std::uint64_t step0) {
  typedef typename V32<W>::f vf;
  typedef typename V32<W>::i vi;
  static_assert(Lanes % W == 0 && Lanes <= static_cast<int>(kWidth), "whole vectors of the panel");
  constexpr int G = Lanes / W;
  const Float32Grid grid = float32_grid(R);
  Rounder r = R;
  r.mode = Mode;
  Keys<W> key[Rows][G];
  vf s[Rows][G];
  for (int row = 0; row < Rows; ++row)
    for (int g = 0; g < G; ++g) {
      stream_keys<Mode, W>(seed, index + row * kWidth + g * W, key[row][g]);
      s[row][g] = vf{};
    }
  // Stochastic rounding's cheaper steps mark the lanes they cannot decide (add32); a chunk
  // that has one is run again by the next step before the exact redo (run_sr_steps).
  SrSteps sr(grid);
  for (std::size_t j0 = 0; j0 < n; j0 += kChunk<Mode>) {
    const std::size_t j1 = j0 + kChunk<Mode> < n ? j0 + kChunk<Mode> : n;
    // One mark per lane position for all groups of a row (fewer registers): a marked
    // position is redone in every group, which is exact too.
    vf start[Rows][G];
    vi special[Rows];
    for (int row = 0; row < Rows; ++row)
      for (int g = 0; g < G; ++g) start[row][g] = s[row][g];
    auto run = [&](auto sr_step) {
      for (int row = 0; row < Rows; ++row) {
        special[row] = vi{};
        for (int g = 0; g < G; ++g) s[row][g] = start[row][g];
      }
      for (std::size_t j = j0; j < j1; ++j) {
        MPCORE_UNROLL
        for (int g = 0; g < G; ++g) {
          vf w;
          std::memcpy(&w, panel + j * kWidth + g * W, sizeof w);
          MPCORE_UNROLL
          for (int row = 0; row < Rows; ++row) {
            vf p = w * xr[row][j];  // exact (the caller proved it)
            opaque(p);
            typename V32<W>::u word;
            random_word32<Mode, W>(key[row][g], j + step0, word);
            add32<Mode, W, false, decltype(sr_step)::value>(s[row][g], p, grid, word, special[row], s[row][g]);
          }
        }
      }
    };
    if constexpr (Mode == Rounding::Stochastic) {
      run_sr_steps(sr, grid, run, [&] {
        vi any = special[0];
        for (int row = 1; row < Rows; ++row) any |= special[row];
        return any_lane(any);
      });
    } else {
      run(std::integral_constant<SrStep, SrStep::Normal>{});
    }
    for (int row = 0; row < Rows; ++row) {
      if (!any_lane(special[row])) continue;
      // Rare: redo the chunk exactly (in binary64) for the lanes that met a special case.
      for (std::size_t lane = 0; lane < static_cast<std::size_t>(Lanes); ++lane) {
        const int g = static_cast<int>(lane) / W, l = static_cast<int>(lane) % W;
        if (!special[row][l]) continue;
        double v = start[row][g][l];
        for (std::size_t j = j0; j < j1; ++j)
          v = add_rounded(v, ::mpcore::detail::unfused_mul(static_cast<double>(panel[j * kWidth + lane]), static_cast<double>(xr[row][j])), r,
                          Mode == Rounding::Stochastic ? key[row][g].word(l, j + step0) : 0);
        // A value of the format (exact in binary32), or an infinity or NaN, which binary32
        // carries too: the next step marks the lane again and this loop keeps it exact.
        s[row][g][l] = static_cast<float>(v);
      }
    }
  }
  for (int row = 0; row < Rows; ++row)
    for (std::size_t lane = 0; lane < static_cast<std::size_t>(Lanes); ++lane)
      out[row * kWidth + lane] = s[row][lane / W][lane % W];
}
