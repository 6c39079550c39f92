// mpcore.MatmulOptions and mpcore.LadderOptions: the option structs of matmul_options.hpp
// and ladder_options.hpp as Python classes, with the enums of their fields named once
// (names.hpp). Every field is checked here, when it is set, by an error that names it;
// the Python layer checks none of them again.
#include <climits>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "options.hpp"

namespace mpcore::python {

namespace {

template <class E, std::size_t N>
void bind_enum(nb::module_& m, const char* name, const char* const (&names)[N], const E (&values)[N],
               const char* doc) {
  nb::enum_<E> e(m, name, doc);
  for (std::size_t i = 0; i < N; ++i) e.value(names[i], values[i]);
}

std::string python_type(nb::handle v) { return Py_TYPE(v.ptr())->tp_name; }

std::string format_name(const Format& f) {
  for (const auto& nf : formats::all)
    if (nf.format == f) return nf.name;
  return "custom";
}

std::string shown(nb::handle v) { return nb::cast<std::string>(nb::repr(v)); }

}  // namespace

bool is_boolean(nb::handle v) {
  const std::string t = python_type(v);
  return PyBool_Check(v.ptr()) || t == "numpy.bool" || t == "numpy.bool_";
}

std::optional<long long> integer_value(nb::handle v) {
  if (is_boolean(v)) return std::nullopt;
  PyObject* index = PyNumber_Index(v.ptr());  // int and NumPy integers; not float
  if (!index) {
    PyErr_Clear();
    return std::nullopt;
  }
  int overflow = 0;
  const long long value = PyLong_AsLongLongAndOverflow(index, &overflow);
  Py_DECREF(index);
  if (overflow) return overflow > 0 ? LLONG_MAX : LLONG_MIN;
  return value;
}

double real_value(nb::handle v, const char* field) {
  if (!is_boolean(v) && !nb::isinstance<nb::str>(v) && !PyBytes_Check(v.ptr())) {
    const double d = PyFloat_AsDouble(v.ptr());  // float, int, NumPy scalars
    if (!(d == -1.0 && PyErr_Occurred())) return d;
    PyErr_Clear();
  }
  throw nb::type_error((std::string(field) + " must be a real number, not " + python_type(v)).c_str());
}

Format format_value(nb::handle v, const char* field) {
  if (nb::isinstance<NamedFormat>(v)) return nb::cast<const NamedFormat&>(v).spec;
  if (nb::isinstance<nb::str>(v)) {
    try {
      return parse_format(nb::cast<std::string>(v));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string(field) + ": " + e.what());
    }
  }
  throw nb::type_error(
      (std::string(field) + " must be a format name or an mpcore.Format, not " + python_type(v)).c_str());
}

NamedFormat named(const Format& f) { return NamedFormat{format_name(f), f}; }

std::uint64_t seed_value(nb::handle v, Rounding mode) {
  if (v.is_none()) {
    if (mode != Rounding::Stochastic) return 0;
    std::random_device device;  // a fresh stream: seed=None asks for a new draw
    return (static_cast<std::uint64_t>(device()) << 32) ^ device();
  }
  if (is_boolean(v) || !integer_value(v))
    throw nb::type_error(("seed must be an integer or None, not " + python_type(v)).c_str());
  nb::object index = nb::steal(PyNumber_Index(v.ptr()));
  const unsigned long long s = PyLong_AsUnsignedLongLong(index.ptr());
  if (s == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    PyErr_Clear();
    throw std::invalid_argument("seed must be in [0, 2**64), got " + shown(v));
  }
  return s;
}

int sr_bits_value(nb::handle v) {
  if (v.is_none()) return kMaxStochasticBits;
  const auto n = integer_value(v);
  if (!n || *n < 1 || *n > kMaxStochasticBits)
    throw std::invalid_argument("sr_bits must be an integer in 1.." + std::to_string(kMaxStochasticBits) + ", got " +
                                shown(v));
  return static_cast<int>(*n);
}

int threads_value(nb::handle v) {
  if (v.is_none()) return 0;
  const auto n = integer_value(v);
  if (!n) throw nb::type_error(("threads must be a positive integer or None, not " + python_type(v)).c_str());
  if (*n < 1 || *n > cpu::kMaxThreads)
    throw std::invalid_argument("threads must be in 1.." + std::to_string(cpu::kMaxThreads) +
                                " (or None for all cores), got " + shown(v));
  return static_cast<int>(*n);
}

std::size_t block_value(nb::handle v, Order order) {
  if (v.is_none()) return kDefaultBlock;
  if (order != Order::Blocked)
    throw std::invalid_argument("block is only used with order='blocked' (order is '" + std::string(name_of(order)) +
                                "')");
  const auto n = integer_value(v);
  if (!n || *n < 1) throw std::invalid_argument("block must be a positive integer, got " + shown(v));
  return static_cast<std::size_t>(*n);
}

double tau_value(nb::handle v) {
  const double tau = real_value(v, "tau");
  if (std::isnan(tau) || tau < 0)
    throw std::invalid_argument("tau must be >= 0 (inf allowed), got " + shown(v));
  return tau;
}

std::optional<double> alpha_value(nb::handle v) {
  if (v.is_none()) return std::nullopt;
  const double alpha = real_value(v, "alpha");
  if (!std::isfinite(alpha)) throw std::invalid_argument("alpha must be finite, got " + shown(v));
  return alpha;
}

Factor factor_value(nb::handle v) {
  const auto one = integer_value(v);
  if (one && *one == 1) return Factor::One;
  return enum_value(v, "factor", "factor", kFactorNames, kFactorValues);
}

MatmulOptions matmul_options(nb::handle acc, nb::handle rounding, nb::handle order, nb::handle block,
                             nb::handle outer, nb::handle seed, nb::handle sr_bits, nb::handle threads) {
  MatmulOptions o;
  o.acc = format_value(acc, "acc");
  o.rounding = rounding_value(rounding);
  o.order = enum_value(order, "order", "summation order", kOrderNames, kOrderValues);
  o.block = block_value(block, o.order);
  o.outer = format_value(outer, "outer");
  o.seed = seed_value(seed, o.rounding);
  o.sr_bits = sr_bits_value(sr_bits);
  o.threads = threads_value(threads);
  return o;
}

static LadderOptions ladder_options(nb::handle formats, nb::handle tau, nb::handle activation, nb::handle alpha,
                                    nb::handle estimator, nb::handle factor, const MatmulOptions& accumulation,
                                    bool bounds, bool guard_sign) {
  LadderOptions o;
  if (nb::isinstance<nb::str>(formats) || nb::isinstance<NamedFormat>(formats) || !PySequence_Check(formats.ptr()) ||
      PySequence_Size(formats.ptr()) == 0)
    throw std::invalid_argument("formats must be a non-empty list of formats, cheapest first");
  const nb::sequence list = nb::borrow<nb::sequence>(formats);
  for (std::size_t k = 0; k < nb::len(list); ++k)
    o.formats.push_back(format_value(list[k], ("formats[" + std::to_string(k) + "]").c_str()));
  o.tau = tau_value(tau);
  o.activation = activation_value(activation);
  o.alpha = alpha_value(alpha);
  o.estimator = estimator_value(estimator);
  o.factor = factor_value(factor);
  o.accumulation = accumulation;
  o.bounds = bounds;
  o.guard_sign = guard_sign;
  const std::string bad = validate_ladder(o);
  if (!bad.empty()) throw std::invalid_argument(bad);
  return o;
}

// A property whose setter takes any Python value (None included) and checks it.
template <class C, class Get, class Set>
void checked_property(nb::class_<C>& cls, const char* name, Get get, Set set, const char* doc = "") {
  cls.def_prop_rw(name, get, set, nb::for_setter(nb::arg("value").none()), doc);
}

static std::string repr_matmul(const MatmulOptions& o) {
  std::string s = "MatmulOptions(acc='" + format_name(o.acc) + "', rounding='" + name_of(o.rounding) + "', order='" +
                  name_of(o.order) + "'";
  if (o.order == Order::Blocked) s += ", block=" + std::to_string(o.block) + ", outer='" + format_name(o.outer) + "'";
  s += ", seed=" + std::to_string(o.seed) + ", sr_bits=" + std::to_string(o.sr_bits) +
       ", threads=" + (o.threads ? std::to_string(o.threads) : std::string("None")) + ")";
  return s;
}

static void bind_matmul_options(nb::module_& m) {
  nb::class_<MatmulOptions> cls(m, "MatmulOptions",
                            "How one simulated accumulation runs: accumulator format, rounding, summation order "
                            "(block and outer format for 'blocked'), stochastic-rounding seed and bits, threads.");
  cls.def(
          "__init__",
          [](MatmulOptions* self, nb::handle acc, nb::handle rounding, nb::handle order, nb::handle block,
             nb::handle outer, nb::handle seed, nb::handle sr_bits, nb::handle threads) {
            new (self) MatmulOptions(matmul_options(acc, rounding, order, block, outer, seed, sr_bits, threads));
          },
          nb::kw_only(), nb::arg("acc") = "fp32", nb::arg("rounding") = "rne", nb::arg("order") = "sequential",
          nb::arg("block").none() = nb::none(), nb::arg("outer") = "fp32", nb::arg("seed").none() = 0,
          nb::arg("sr_bits").none() = nb::none(), nb::arg("threads").none() = nb::none(),
          "seed=None draws a fresh seed for stochastic rounding; sr_bits=None: 32; threads=None: "
          "$MPCORE_NUM_THREADS or all cores; block (default 32) only with order='blocked'.");
  using O = MatmulOptions;
  using H = nb::handle;
  checked_property(cls, "acc", [](const O& o) { return named(o.acc); },
                   [](O& o, H v) { o.acc = format_value(v, "acc"); }, "Accumulator format.");
  checked_property(cls, "rounding", [](const O& o) { return o.rounding; },
                   [](O& o, H v) { o.rounding = rounding_value(v); }, "Rounding mode.");
  checked_property(cls, "order", [](const O& o) { return o.order; },
                   [](O& o, H v) { o.order = enum_value(v, "order", "summation order", kOrderNames, kOrderValues); },
                   "Summation order.");
  checked_property(cls, "block", [](const O& o) { return o.block; },
                   [](O& o, H v) { o.block = block_value(v, Order::Blocked); },
                   "Products per inner block (order='blocked').");
  checked_property(cls, "outer", [](const O& o) { return named(o.outer); },
                   [](O& o, H v) { o.outer = format_value(v, "outer"); }, "Outer accumulator format (order='blocked').");
  checked_property(cls, "seed", [](const O& o) { return o.seed; },
                   [](O& o, H v) { o.seed = seed_value(v, o.rounding); }, "Key of the stochastic-rounding streams.");
  checked_property(cls, "sr_bits", [](const O& o) { return o.sr_bits; },
                   [](O& o, H v) { o.sr_bits = sr_bits_value(v); }, "Random bits per stochastic rounding.");
  checked_property(cls, "threads", [](const O& o) { return o.threads ? nb::cast(o.threads) : nb::none(); },
                   [](O& o, H v) { o.threads = threads_value(v); }, "CPU threads (None: all).");
  cls.def("__repr__", &repr_matmul)
      .def("__copy__", [](const MatmulOptions& o) { return o; })
      .def("__deepcopy__", [](const MatmulOptions& o, nb::handle) { return o; })
      .def("__eq__", [](const MatmulOptions& a, const MatmulOptions& b) { return a == b; })
      .def("__getstate__",
           [](const MatmulOptions& o) {
             return nb::make_tuple(named(o.acc), name_of(o.rounding), name_of(o.order), o.block, named(o.outer),
                                   o.seed, o.sr_bits, o.threads);
           })
      .def("__setstate__", [](MatmulOptions& self, const nb::tuple& t) {
        new (&self) MatmulOptions(matmul_options(t[0], t[1], t[2], nb::none(), t[4], t[5], t[6],
                                                 nb::cast<int>(t[7]) ? t[7] : nb::none()));
        self.block = nb::cast<std::size_t>(t[3]);
      });
}

static void bind_ladder_options(nb::module_& m) {
  nb::class_<LadderOptions> cls(m, "LadderOptions",
                            "The precision ladder's options: formats (cheapest first), tolerance tau, the "
                            "activation that follows and its alpha, the condition estimator and growth factor, "
                            "the accumulation of every rung, and whether to compute error bounds.");
  cls.def(
          "__init__",
          [](LadderOptions* self, nb::handle formats, nb::handle tau, nb::handle activation, nb::handle alpha,
             nb::handle estimator, nb::handle factor, std::optional<MatmulOptions> accumulation, bool bounds,
             bool guard_sign) {
            new (self) LadderOptions(ladder_options(formats, tau, activation, alpha, estimator, factor,
                                                    accumulation ? *accumulation : MatmulOptions{}, bounds,
                                                    guard_sign));
          },
          nb::arg("formats"), nb::kw_only(), nb::arg("tau") = 0.0, nb::arg("activation") = "identity",
          nb::arg("alpha").none() = nb::none(), nb::arg("estimator") = "fp32", nb::arg("factor") = "1",
          nb::arg("accumulation").none() = nb::none(), nb::arg("bounds") = true, nb::arg("guard_sign") = false)
      .def_prop_ro("formats",
                   [](const LadderOptions& o) {
                     std::vector<NamedFormat> out;
                     for (const Format& f : o.formats) out.push_back(named(f));
                     return out;
                   });
  using O = LadderOptions;
  using H = nb::handle;
  checked_property(cls, "tau", [](const O& o) { return o.tau; }, [](O& o, H v) { o.tau = tau_value(v); });
  checked_property(cls, "activation", [](const O& o) { return o.activation; },
                   [](O& o, H v) { o.activation = activation_value(v); });
  checked_property(cls, "alpha", [](const O& o) { return o.activation_alpha(); },
                   [](O& o, H v) { o.alpha = alpha_value(v); },
                   "alpha as used: the given value, or the activation's default (None restores it).");
  checked_property(cls, "estimator", [](const O& o) { return o.estimator; },
                   [](O& o, H v) { o.estimator = estimator_value(v); });
  checked_property(cls, "factor", [](const O& o) { return o.factor; },
                   [](O& o, H v) { o.factor = factor_value(v); });
  cls.def_rw("accumulation", &LadderOptions::accumulation)
      .def("__copy__", [](const LadderOptions& o) { return o; })
      .def("__deepcopy__", [](const LadderOptions& o, nb::handle) { return o; })
      .def("__getstate__",
           [](const LadderOptions& o) {
             std::vector<NamedFormat> fmts;
             for (const Format& f : o.formats) fmts.push_back(named(f));
             return nb::make_tuple(fmts, o.tau, o.activation, o.alpha ? nb::cast(*o.alpha) : nb::none(),
                                   o.estimator, o.factor, o.accumulation, o.bounds, o.guard_sign);
           })
      .def("__setstate__",
           [](LadderOptions& self, const nb::tuple& t) {
             new (&self) LadderOptions(ladder_options(t[0], t[1], t[2], t[3], t[4], t[5],
                                                      nb::cast<MatmulOptions>(t[6]), nb::cast<bool>(t[7]),
                                                      nb::cast<bool>(t[8])));
           })
      .def_rw("bounds", &LadderOptions::bounds)
      .def_rw("guard_sign", &LadderOptions::guard_sign);
}

void bind_options(nb::module_& m) {
  bind_enum(m, "Rounding", kRoundingNames, kRoundingValues, "Rounding modes.");
  bind_enum(m, "Order", kOrderNames, kOrderValues, "Summation orders.");
  bind_enum(m, "Activation", kActivationNames, kActivationValues, "Activations that follow a layer.");
  bind_enum(m, "Estimator", kEstimatorNames, kEstimatorValues, "Estimators of |W_i||x| + |b_i|.");
  bind_enum(m, "Factor", kFactorIdentifiers, kFactorValues,
            "Growth factors c(n) of the error estimate (as strings: '1', 'sqrt', 'n').");
  bind_matmul_options(m);
  bind_ladder_options(m);
  m.attr("FACTOR_NAMES") = nb::make_tuple(kFactorNames[0], kFactorNames[1], kFactorNames[2]);
  m.attr("DEFAULT_BLOCK") = kDefaultBlock;
  m.attr("MAX_THREADS") = cpu::kMaxThreads;
}

}  // namespace mpcore::python
