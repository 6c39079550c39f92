// The instruction sets the lane kernels are compiled for, which one this CPU has, and
// which one the kernels use ($MPCORE_SIMD, or set_isa in tests and benchmarks).
#pragma once

#include <cctype>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace mpcore::cpu {

enum class Isa : int { Portable = 0, Avx2 = 1, Avx512 = 2 };

inline const char* name_of(Isa i) { return i == Isa::Avx512 ? "avx512" : i == Isa::Avx2 ? "avx2" : "portable"; }

inline Isa detected_isa() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  // Every feature the AVX-512 copy is compiled with (dispatch.hpp).
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw"))
    return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
#endif
  return Isa::Portable;
}

// What $MPCORE_SIMD asks for (avx512, avx2 or portable, any case; unset or "auto": the best
// detected), and what is wrong with it: an empty, unknown or unsupported value falls back to
// the best instruction set detected and says why (the Python module warns with it).
struct IsaRequest {
  Isa isa;
  bool forced;          // a valid instruction set was named (else: auto)
  std::string problem;  // empty when the variable is unset or honoured
};

inline IsaRequest isa_from_environment() {
  const Isa best = detected_isa();
  const char* env = std::getenv("MPCORE_SIMD");
  if (!env) return {best, false, {}};
  std::string s(env);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "auto") return {best, false, {}};
  const std::string fallback = std::string("; using ") + name_of(best);
  if (s.empty()) return {best, false, "MPCORE_SIMD is set but empty (valid: avx512, avx2, portable, auto)" + fallback};
  if (s != "avx512" && s != "avx2" && s != "portable")
    return {best, false, "MPCORE_SIMD=" + std::string(env) + " is not an instruction set (valid: avx512, avx2, portable, auto)" + fallback};
  const Isa want = s == "avx512" ? Isa::Avx512 : s == "avx2" ? Isa::Avx2 : Isa::Portable;
  if (static_cast<int>(want) > static_cast<int>(best))
    return {best, false, "MPCORE_SIMD=" + std::string(env) + ": this CPU does not support it" + fallback};
  return {want, true, {}};
}

// Which instruction sets the kernels may use. Forced ($MPCORE_SIMD, or set_isa in tests and
// benchmarks): `isa` only. Auto: any up to `isa` (the best detected), and dispatch.hpp
// times them per kernel family and keeps the fastest.
struct IsaSetting {
  Isa isa;
  bool forced;
};

inline IsaSetting& isa_setting() {
  static IsaSetting setting = [] {
    const IsaRequest r = isa_from_environment();
    return IsaSetting{r.isa, r.forced};
  }();
  return setting;
}

// The forced instruction set, or the best one auto may use (native kernels and digests
// take it: AVX2 code wherever it is not portable).
inline Isa active_isa() { return isa_setting().isa; }

inline void set_isa(Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(detected_isa()))
    throw std::invalid_argument(std::string("this CPU does not support ") + name_of(isa) + " (best: " +
                                name_of(detected_isa()) + ")");
  isa_setting() = IsaSetting{isa, true};
}

// Back to auto: the fastest instruction set per kernel family (timed once per process).
inline void set_isa_auto() { isa_setting() = IsaSetting{detected_isa(), false}; }

}  // namespace mpcore::cpu
