// Included by target-inl.hpp once per instruction set, inside namespace
// mpcore::cpu::simd::<target> and under that target's #pragma (no include guard).
// The pairwise order (accumulator.hpp) in the vector lanes, in a binary64 or binary32
// container. Every lane's tree has the same shape (it depends on n only: after leaf j
// come as many merges as j has trailing one bits), so the lanes stay in step; each
// leaf is round(0 + p_j), each merge round(left + right), with the stochastic-rounding
// step numbers of accumulator.hpp. A lane that met a special case anywhere in its tree
// has that step redone by the scalar add_rounded (each node is a function of its two
// children and its step number only), so the bits are the definition's.

// The random streams of kWidth lanes in groups of W (both containers).
template <Rounding Mode, int W>
struct LaneStreams {
  static constexpr int width = W, G = static_cast<int>(kWidth) / W;
  static constexpr Rounding mode = Mode;
  Keys<W> key[G];

  LaneStreams(std::uint64_t seed, const std::uint64_t* index) {
    for (int g = 0; g < G; ++g) stream_keys<Mode, W>(seed, index + g * W, key[g]);
  }
  // The random bits of a step of lane l of group g (stochastic rounding only).
  std::uint32_t bits(int g, int l, std::uint64_t step) const {
    return Mode == Rounding::Stochastic ? key[g].word(l, step) : 0;
  }
};

// Binary64 lanes for any input type (SrRemOnly: add64's).
template <Rounding Mode, int W, class T, bool SrRemOnly = false>
struct Container64 : LaneStreams<Mode, W> {
  typedef typename V<W>::d vec;
  typedef typename V<W>::i mark;
  typedef double scalar;
  using LaneStreams<Mode, W>::key;
  Float64Grid grid;

  Container64(const Rounder& R, std::uint64_t seed, const std::uint64_t* index)
      : LaneStreams<Mode, W>(seed, index), grid(float64_grid(R)) {}
  __attribute__((always_inline)) void product(const T* xr, const T* panel, std::size_t j, int g, vec& p) const {
    load<W>(panel + j * kWidth + g * W, p);
    p *= static_cast<double>(xr[j]);
    opaque(p);  // never fused into the TwoSum that follows
  }
  static constexpr bool sr_steps = false;  // one vector step for every lane
  template <bool Exact, SrStep Step = SrStep::Normal>
  __attribute__((always_inline)) void add(const vec& a, const vec& b, std::uint64_t step, int g, mark& special,
                                          vec& sum) const {
    typename V<W>::u rnd;
    random64<Mode, W>(key[g], step, static_cast<int>(grid.nbits), rnd);
    add64<Mode, W, Exact, SrRemOnly>(a, b, rnd, grid, special, sum);
  }
  // Term j of lane l of group g, for the exact scalar redo.
  double term(const T* xr, const T* panel, std::size_t j, int g, int l) const {
    return ::mpcore::detail::unfused_mul(static_cast<double>(panel[j * kWidth + g * W + l]), static_cast<double>(xr[j]));
  }
};

// Binary32 lanes: float inputs with products exact in binary32, supports_float32 modes.
template <Rounding Mode, int W>
struct Container32 : LaneStreams<Mode, W> {
  typedef typename V32<W>::f vec;
  typedef typename V32<W>::i mark;
  typedef float scalar;  // exact scalar results (values of the format, inf, NaN) are binary32 numbers
  using LaneStreams<Mode, W>::key;
  Float32Grid grid;

  Container32(const Rounder& R, std::uint64_t seed, const std::uint64_t* index)
      : LaneStreams<Mode, W>(seed, index), grid(float32_grid(R)) {}
  // Stochastic rounding's cheaper steps mark the lanes a later step decides (add32).
  static constexpr bool sr_steps = Mode == Rounding::Stochastic;
  const Float32Grid& sr_grid() const { return grid; }
  __attribute__((always_inline)) void product(const float* xr, const float* panel, std::size_t j, int g,
                                              vec& p) const {
    std::memcpy(&p, panel + j * kWidth + g * W, sizeof p);
    p *= xr[j];
    opaque(p);
  }
  template <bool Exact, SrStep Step = SrStep::Normal>
  __attribute__((always_inline)) void add(const vec& a, const vec& b, std::uint64_t step, int g, mark& special,
                                          vec& sum) const {
    typename V32<W>::u word;
    random_word32<Mode, W>(key[g], step, word);
    add32<Mode, W, Exact, Step>(a, b, grid, word, special, sum);
  }
  double term(const float* xr, const float* panel, std::size_t j, int g, int l) const {
    return ::mpcore::detail::unfused_mul(static_cast<double>(panel[j * kWidth + g * W + l]), static_cast<double>(xr[j]));
  }
};

// Two rows of x against one panel as one container of twice the groups: group g of row r is
// group r * C::G + g, so the outputs of row r are lanes [r * kWidth, (r + 1) * kWidth). The
// rows share the tree's shape and step numbers; each keeps its own random streams.
template <class C>
struct TwoRows {
  typedef typename C::vec vec;
  typedef typename C::mark mark;
  typedef typename C::scalar scalar;
  static constexpr int width = C::width, G = 2 * C::G;
  static constexpr Rounding mode = C::mode;
  C row[2];
  const float* const* xr;

  TwoRows(const Rounder& R, std::uint64_t seed, const std::uint64_t* index, const float* const* rows)
      : row{C(R, seed, index), C(R, seed, index + kWidth)}, xr(rows) {}
  __attribute__((always_inline)) void product(const float*, const float* panel, std::size_t j, int g, vec& p) const {
    row[g / C::G].product(xr[g / C::G], panel, j, g % C::G, p);
  }
  static constexpr bool sr_steps = C::sr_steps;
  const Float32Grid& sr_grid() const { return row[0].grid; }
  template <bool Exact, SrStep Step = SrStep::Normal>
  __attribute__((always_inline)) void add(const vec& a, const vec& b, std::uint64_t step, int g, mark& special,
                                          vec& sum) const {
    row[g / C::G].template add<Exact, Step>(a, b, step, g % C::G, special, sum);
  }
  std::uint32_t bits(int g, int l, std::uint64_t step) const { return row[g / C::G].bits(g % C::G, l, step); }
  double term(const float*, const float* panel, std::size_t j, int g, int l) const {
    return row[g / C::G].term(xr[g / C::G], panel, j, g % C::G, l);
  }
};

// C::G * C::width outputs: out[l] = the pairwise accumulation of lane l's terms
// (c.term(xr, panel, j, ...), j < n; no bias), exactly as accumulate() with
// Order::Pairwise gives it.
template <class C, class T>
__attribute__((always_inline)) inline void pairwise_body(const C& c, const T* xr, const T* panel, std::size_t n,
                                                         const Accumulation& A, double* out) {
  typedef typename C::vec vec;
  constexpr int G = C::G;
  constexpr bool rolled = C::sr_steps && sizeof(vec) == 64;  // binary32 SR in 512-bit vectors (for_groups)
  Rounder R = A.acc;
  R.mode = C::mode;
  // Marks are per lane position, shared by the groups, and checked once per call of `leaves`: a
  // marked position is redone in every group by the exact scalar steps.
  auto any = [](const typename C::mark& m) { return any_lane(m); };
  vec stack[64][G];  // stack[t]: the sum of a run of leaves, run lengths decreasing powers of two
  int top = 0;
  std::uint64_t node = 0;
  const StepNumbers step{n};
  const vec zero{};
  // Stochastic rounding in binary32: which step runs first (run_sr_steps).
  struct NoSteps {};
  auto sr = [&] {
    if constexpr (C::sr_steps) return SrSteps(c.sr_grid());
    else return NoSteps{};
  }();
  // Leaf j and the merges after it (Leaves = 1), or leaves j and j + 1 (j even) and the merges
  // after leaf j + 1, the first of which joins the two leaves in registers (Leaves = 2: leaf j
  // never goes to the stack). A later stochastic-rounding step (run_sr_steps) redoes a call in
  // which the one before marked a lane.
  auto leaves = [&](std::size_t j, auto count) {
    constexpr int Leaves = decltype(count)::value, Joined = Leaves - 1;  // merges done in registers
    typename C::mark special{};
    int merges = 0;
    for (std::size_t t = j + Leaves; (t & 1) == 0; t >>= 1) ++merges;  // after the last leaf: merge equal runs
    vec v[G];
    auto run = [&](auto sr_step) {
      constexpr SrStep Step = decltype(sr_step)::value;
      special = typename C::mark{};
      for_groups<rolled, G>([&](int g) {
        vec p;
        c.product(xr, panel, j, g, p);
        c.template add<true, Step>(zero, p, step.term(j), g, special, v[g]);  // 0 + p is exact
        if constexpr (Leaves == 2) {
          vec right;
          c.product(xr, panel, j + 1, g, p);
          c.template add<true, Step>(zero, p, step.term(j + 1), g, special, right);
          c.template add<false, Step>(v[g], right, step.combine(node), g, special, v[g]);
        }
      });
      for (int t = Joined; t < merges; ++t) {  // groups inside: independent chains side by side
        const vec* left = stack[top - 1 - t + Joined];
        for_groups<rolled, G>([&](int g) {
          c.template add<false, Step>(left[g], v[g], step.combine(node + t), g, special, v[g]);
        });
      }
    };
    if constexpr (C::sr_steps) {
      run_sr_steps(sr, c.sr_grid(), run, [&] { return any(special); });
    } else {
      run(std::integral_constant<SrStep, SrStep::Normal>{});
    }
    if (any(special)) {  // rare: the leaves and merges again, exactly, for the marked positions
      for (int g = 0; g < G; ++g)
        for (int l = 0; l < C::width; ++l) {
          if (!special[l]) continue;
          double u = add_rounded(0.0, c.term(xr, panel, j, g, l), R, c.bits(g, l, step.term(j)));
          if constexpr (Leaves == 2) {
            const double right = add_rounded(0.0, c.term(xr, panel, j + 1, g, l), R, c.bits(g, l, step.term(j + 1)));
            u = add_rounded(u, right, R, c.bits(g, l, step.combine(node)));
          }
          for (int t = Joined; t < merges; ++t)
            u = add_rounded(stack[top - 1 - t + Joined][g][l], u, R, c.bits(g, l, step.combine(node + t)));
          v[g][l] = static_cast<typename C::scalar>(u);
        }
    }
    node += static_cast<std::uint64_t>(merges);
    top -= merges - Joined;
    for (int g = 0; g < G; ++g) stack[top][g] = v[g];
    ++top;
  };
  // Pairs of leaves save a store and a load of every other leaf: nearest even in 512-bit
  // binary32 vectors (stored inputs, fp16, one thread, C++ harness) 52.4 -> 47.0 ms; elsewhere
  // they lost (there rtz 70.7 -> 76.9, SR 166 -> 194: more registers live; binary64 lanes SR
  // 302 -> 374; AVX2 binary32 RNE 72 -> 86, binary64 224 -> 263), so only there.
  constexpr bool pairs =
      C::mode == Rounding::NearestEven && sizeof(vec) == 64 && std::is_same_v<typename C::scalar, float>;
  std::size_t j = 0;
  if constexpr (pairs)
    for (; j + 1 < n; j += 2) leaves(j, std::integral_constant<int, 2>{});
  for (; j < n; ++j) leaves(j, std::integral_constant<int, 1>{});
  vec s[G];
  for (int g = 0; g < G; ++g) s[g] = top > 0 ? stack[top - 1][g] : zero;
  for (int t = top - 2; t >= 0; --t, ++node) {
    typename C::mark special{};
    vec next[G];
    for (int g = 0; g < G; ++g) c.template add<false, SrStep::Any>(stack[t][g], s[g], step.combine(node), g, special, next[g]);
    if (any(special))
      for (int g = 0; g < G; ++g)
        for (int l = 0; l < C::width; ++l)
          if (special[l])
            next[g][l] =
                static_cast<typename C::scalar>(add_rounded(stack[t][g][l], s[g][l], R, c.bits(g, l, step.combine(node))));
    for (int g = 0; g < G; ++g) s[g] = next[g];
  }
  for (int lane = 0; lane < G * C::width; ++lane) out[lane] = s[lane / C::width][lane % C::width];
}
