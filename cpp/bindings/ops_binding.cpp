// Array kernels: rounding and simulated-accumulation matmul, and which kernel path runs.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "arrays.hpp"

namespace mpcore::python {

static cpu::Path parse_path(const std::string& s, bool& forced) {
  forced = s != "auto";
  if (s == "auto") return cpu::Path::Generic;
  if (s == "native32") return cpu::Path::NativeFp32;
  if (s == "native64") return cpu::Path::NativeFp64;
  if (s == "lanes") return cpu::Path::Lanes;
  if (s == "lanes32") return cpu::Path::Lanes32;
  if (s == "generic") return cpu::Path::Generic;
  throw std::invalid_argument("unknown kernel path '" + s +
                              "'; valid: 'auto', 'native32', 'native64', 'lanes', 'lanes32', 'generic'");
}

static NewMatrix<double> matmul(AnyMatrix x, nb::object w, std::optional<AnyVector> b, const MatmulOptions& o,
                                const std::string& path, std::optional<CodeTable> x_table,
                                std::optional<CodeTable> w_table, std::optional<CodeTable> b_table) {
  const cpu::PreparedLinear layer = layer_of(w, b, w_table, b_table);
  bool forced = false;
  const cpu::Path p = parse_path(path, forced);
  const cpu::StoredMatrix xs = stored_operand(x, x_table, "x");
  NewMatrix<double> y = new_matrix<double>(x.shape(0), layer.rows());
  nb::gil_scoped_release release;
  cpu::matmul(xs, layer, y.data(), o, forced ? &p : nullptr);
  return y;
}

// out[b] = matmul(x[b], w[b]) for every b: each exactly the two-dimensional call (its rows,
// its streams), in one call from Python.
static nb::ndarray<nb::numpy, double, nb::ndim<3>, nb::c_contig> matmul_batched(AnyArray3 x, AnyArray3 w,
                                                                                const MatmulOptions& o) {
  const BatchedOperands ops = batched_operands(x, w);
  const std::size_t batch = x.shape(0), rows = x.shape(1), cols = w.shape(1);
  const std::size_t count = checked_product(checked_product(batch, rows, "the result"), cols, "the result");
  checked_product(count, sizeof(double), "the result");
  double* data = new double[count ? count : 1];
  nb::capsule owner(data, [](void* p) noexcept { delete[] static_cast<double*>(p); });
  nb::ndarray<nb::numpy, double, nb::ndim<3>, nb::c_contig> out(data, {batch, rows, cols}, owner);
  // The slices side by side, each on one thread (small products: starting threads per
  // slice would cost more than the slice); the bits do not depend on the threads.
  MatmulOptions single = o;
  single.threads = 1;
  nb::gil_scoped_release release;
  cpu::parallel_for(batch, o.threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t b = begin; b < end; ++b)
      cpu::matmul(ops.x[b], cpu::PreparedLinear::view(ops.w[b], cpu::StoredMatrix{}), data + b * rows * cols, single);
  });
  return out;
}

static std::string path_name(cpu::Path p) {
  switch (p) {
    case cpu::Path::NativeFp32: return "native32";
    case cpu::Path::NativeFp64: return "native64";
    case cpu::Path::Lanes: return "lanes";
    case cpu::Path::Lanes32: return "lanes32";
    default: return "generic";
  }
}

// Two non-negative sizes (height, width) from a Python pair.
static void pair_value(nb::handle v, const char* name, std::size_t* dst) {
  const std::string bad = std::string(name) + " must be a pair of non-negative integers (height, width)";
  if (!nb::isinstance<nb::tuple>(v) && !nb::isinstance<nb::list>(v)) throw nb::type_error(bad.c_str());
  nb::sequence seq = nb::borrow<nb::sequence>(v);
  if (nb::len(seq) != 2) throw std::invalid_argument(bad);
  for (std::size_t d = 0; d < 2; ++d) {
    nb::handle item = seq[d];
    if (!nb::isinstance<nb::int_>(item) || nb::isinstance<nb::bool_>(item)) throw nb::type_error(bad.c_str());
    int overflow = 0;
    const long long k = PyLong_AsLongLongAndOverflow(item.ptr(), &overflow);
    if (overflow != 0 || k < 0) throw std::invalid_argument(bad);
    dst[d] = static_cast<std::size_t>(k);
  }
}

template <class T>
static NewMatrix<T> conv_windows(nb::ndarray<const T, nb::ndim<4>, nb::c_contig, nb::device::cpu> x,
                                 nb::handle kernel, nb::handle stride, nb::handle padding, nb::handle dilation,
                                 std::size_t c0, std::size_t count, nb::handle threads) {
  cpu::ConvGeometry g;
  pair_value(kernel, "kernel", g.kernel);
  pair_value(stride, "stride", g.stride);
  pair_value(padding, "padding", g.padding);
  pair_value(dilation, "dilation", g.dilation);
  const std::size_t n = x.shape(0), c = x.shape(1), h = x.shape(2), w = x.shape(3);
  const std::string bad = cpu::validate_windows(g, c, h, w, c0, count);
  if (!bad.empty()) throw std::invalid_argument(bad);
  const int threads_n = threads_value(threads);
  const std::size_t positions = checked_product(g.out_size(h, 0), g.out_size(w, 1), "the windows");
  NewMatrix<T> out = new_matrix<T>(checked_product(n, positions, "the windows"),
                                   checked_product(count, checked_product(g.kernel[0], g.kernel[1], "a window"),
                                                   "a window"));
  nb::gil_scoped_release release;
  cpu::conv_windows(x.data(), n, c, h, w, g, c0, count, out.data(), threads_n);
  return out;
}

// A convolution's group into channels [o0, o0 + out_g) of y (N, C_out, H_out * W_out), x and y
// of one dtype (cpu::conv_matmul: the bits of matmul(conv_windows(x), layer) then the dtype).
template <class T>
static void conv_matmul(nb::ndarray<const T, nb::ndim<4>, nb::c_contig, nb::device::cpu> x, nb::object layer,
                        nb::handle kernel, nb::handle stride, nb::handle padding, nb::handle dilation, std::size_t c0,
                        std::size_t count, const MatmulOptions& o,
                        nb::ndarray<T, nb::ndim<3>, nb::c_contig, nb::device::cpu> y, std::size_t o0) {
  cpu::ConvGeometry g;
  pair_value(kernel, "kernel", g.kernel);
  pair_value(stride, "stride", g.stride);
  pair_value(padding, "padding", g.padding);
  pair_value(dilation, "dilation", g.dilation);
  const cpu::PreparedLinear w = layer_of(layer, std::nullopt, std::nullopt, std::nullopt);
  const std::size_t n = x.shape(0), c = x.shape(1), h = x.shape(2), wd = x.shape(3);
  const std::string bad = cpu::validate_windows(g, c, h, wd, c0, count);
  if (!bad.empty()) throw std::invalid_argument(bad);
  if (y.shape(0) != n || y.shape(2) != g.out_size(h, 0) * g.out_size(wd, 1))
    throw std::invalid_argument("y must have shape (N, C_out, H_out * W_out) = (" + std::to_string(n) + ", C_out, " +
                                std::to_string(g.out_size(h, 0) * g.out_size(wd, 1)) + ")");
  nb::gil_scoped_release release;
  cpu::conv_matmul(x.data(), n, c, h, wd, g, c0, count, w, o, y.data(), y.shape(1), o0);
}

void bind_ops(nb::module_& m) {
  m.def(
      "round",
      [](nb::ndarray<const double, nb::ndim<1>, nb::c_contig, nb::device::cpu> x, nb::handle fmt,
         nb::handle rounding, nb::handle seed, nb::handle sr_bits, nb::handle threads) {
        const Format f = format_value(fmt, "fmt");
        const Rounding mode = rounding_value(rounding);
        const std::uint64_t seed_n = seed_value(seed, mode);
        const int bits = sr_bits_value(sr_bits), threads_n = threads_value(threads);
        NewMatrix<double> out = new_matrix<double>(1, x.shape(0));
        nb::gil_scoped_release release;
        cpu::round_array(x.data(), out.data(), x.shape(0), f, mode, seed_n, bits, threads_n);
        return out;
      },
      nb::arg("x"), nb::arg("fmt"), nb::arg("rounding") = "rne", nb::arg("seed").none() = 0,
      nb::arg("sr_bits").none() = nb::none(), nb::arg("threads").none() = nb::none(),
      "Each element of x rounded to fmt (element i uses random stream (seed, i)), as a (1, n) array.");

  const char* doc =
      "x @ w.T (+ b) accumulated as the options say, with one correct rounding per addition (a new array).";
  m.def("matmul", &matmul, nb::arg("x"), nb::arg("w"), nb::arg("b").none(), nb::arg("options"),
        nb::arg("path") = "auto", nb::arg("x_table").none() = nb::none(), nb::arg("w_table").none() = nb::none(),
        nb::arg("b_table").none() = nb::none(), doc);
  m.def("matmul_batched", &matmul_batched, nb::arg("x"), nb::arg("w"), nb::arg("options"),
        "out[b] = matmul(x[b], w[b]) for x (B, L, E) and w (B, S, E), float32 or float64: each exactly the "
        "two-dimensional call.");
  m.def(
      "kernel_path",
      [](const std::string& dtype, const MatmulOptions& o) {
        if (dtype == "float32") return path_name(cpu::choose_path<float>(o));
        if (dtype == "float64") return path_name(cpu::choose_path<double>(o));
        throw std::invalid_argument("dtype must be 'float32' or 'float64'");
      },
      nb::arg("dtype"), nb::arg("options"), "Which CPU kernel matmul takes for these options when the data allows it.");
  m.def(
      "kernel_path",
      [](AnyMatrix x, nb::object w, const MatmulOptions& o, std::optional<CodeTable> x_table,
         std::optional<CodeTable> w_table) {
        const cpu::PreparedLinear layer = layer_of(w, std::nullopt, w_table, std::nullopt);
        return path_name(cpu::matmul_path(stored_operand(x, x_table, "x"), layer.w(), o));
      },
      nb::arg("x"), nb::arg("w"), nb::arg("options"), nb::arg("x_table").none() = nb::none(),
      nb::arg("w_table").none() = nb::none(), "Which CPU kernel matmul takes for these options and this data.");
  const char* windows_doc =
      "The windows of a convolution of x (N, C, H, W; C-contiguous float32 or float64), channels "
      "[c0, c0 + count), as rows: unfold(x[:, c0:c0 + count], kernel, dilation, padding, stride) "
      "transposed and stacked, (N * H_out * W_out, count * kh * kw), zeros in the padding.";
  m.def("conv_windows", &conv_windows<float>, nb::arg("x").noconvert(), nb::arg("kernel"), nb::arg("stride"),
        nb::arg("padding"), nb::arg("dilation"), nb::arg("c0"), nb::arg("count"),
        nb::arg("threads").none() = nb::none(), windows_doc);
  m.def("conv_windows", &conv_windows<double>, nb::arg("x").noconvert(), nb::arg("kernel"), nb::arg("stride"),
        nb::arg("padding"), nb::arg("dilation"), nb::arg("c0"), nb::arg("count"),
        nb::arg("threads").none() = nb::none(), windows_doc);
  const char* conv_doc =
      "Channels [o0, o0 + out_g) of y (N, C_out, H_out * W_out; C-contiguous, x's dtype) := the convolution of "
      "channels [c0, c0 + count) of x with layer (a PreparedLinear or an (out_g, count * kh * kw) array): the bits "
      "of matmul(conv_windows(x, ...), layer, options) at row n * H_out * W_out + p, converted to y's dtype once.";
  m.def("conv_matmul", &conv_matmul<float>, nb::arg("x").noconvert(), nb::arg("layer"), nb::arg("kernel"),
        nb::arg("stride"), nb::arg("padding"), nb::arg("dilation"), nb::arg("c0"), nb::arg("count"), nb::arg("options"),
        nb::arg("y").noconvert(), nb::arg("o0"), conv_doc);
  m.def("conv_matmul", &conv_matmul<double>, nb::arg("x").noconvert(), nb::arg("layer"), nb::arg("kernel"),
        nb::arg("stride"), nb::arg("padding"), nb::arg("dilation"), nb::arg("c0"), nb::arg("count"), nb::arg("options"),
        nb::arg("y").noconvert(), nb::arg("o0"), conv_doc);
  m.def("default_threads", &cpu::default_threads, "Threads used when threads=0.");
  m.attr("MAX_SR_BITS") = kMaxStochasticBits;
}

}  // namespace mpcore::python
