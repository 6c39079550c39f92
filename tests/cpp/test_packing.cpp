// pack_panel against its definition, dst[j * kPanelRows + l] = value(row of lane l, j), for
// every storage (binary32, binary64, 1- and 2-byte codes), magnitudes, column strides,
// listed rows, partial panels and widths around the 4 x 4 blocks and the column tiles.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "check.hpp"
#include "mpcore/cpu/prepared.hpp"

using mpcore::cpu::kPanelRows;
using mpcore::cpu::Storage;
using mpcore::cpu::StoredMatrix;

struct Operand {
  std::vector<float> f32, table;
  std::vector<double> f64;
  std::vector<std::uint8_t> c8;
  std::vector<std::uint16_t> c16;
  StoredMatrix m;
};

// rows x cols values (column stride `stride`) in storage s; table entries are distinct
// binary32 values of both signs.
static Operand make(Storage s, std::size_t rows, std::size_t cols, std::ptrdiff_t stride, std::mt19937& g) {
  Operand a;
  const std::size_t count = rows * cols * static_cast<std::size_t>(stride);
  std::uniform_int_distribution<int> code(0, 255);
  std::normal_distribution<double> value;
  a.table.resize(65536);
  for (std::size_t c = 0; c < a.table.size(); ++c) a.table[c] = (c % 2 ? -1.0f : 1.0f) * (0.5f + c / 64.0f);
  switch (s) {
    case Storage::Float32: a.f32.resize(count); for (auto& v : a.f32) v = static_cast<float>(value(g)); break;
    case Storage::Float64: a.f64.resize(count); for (auto& v : a.f64) v = value(g); break;
    case Storage::Code8: a.c8.resize(count); for (auto& v : a.c8) v = static_cast<std::uint8_t>(code(g)); break;
    case Storage::Code16: a.c16.resize(count); for (auto& v : a.c16) v = static_cast<std::uint16_t>(code(g) * 257); break;
  }
  const void* data = s == Storage::Float32 ? static_cast<const void*>(a.f32.data())
                     : s == Storage::Float64 ? static_cast<const void*>(a.f64.data())
                     : s == Storage::Code8   ? static_cast<const void*>(a.c8.data())
                                             : static_cast<const void*>(a.c16.data());
  a.m = StoredMatrix{data, s, a.table.data(), rows, cols, static_cast<std::ptrdiff_t>(cols) * stride, stride};
  return a;
}

static double value_at(const Operand& a, std::size_t i, std::size_t j) {
  const std::size_t k = i * static_cast<std::size_t>(a.m.row_stride) + j * static_cast<std::size_t>(a.m.col_stride);
  double v = 0;
  switch (a.m.storage) {
    case Storage::Float32: v = a.f32[k]; break;
    case Storage::Float64: v = a.f64[k]; break;
    case Storage::Code8: v = a.table[a.c8[k]]; break;
    case Storage::Code16: v = a.table[a.c16[k]]; break;
  }
  return a.m.magnitude ? std::fabs(v) : v;
}

// width: the lanes pack_panel writes; the others must keep what dst held (-7).
template <class T>
static void check_panel(const Operand& a, std::size_t p, const std::size_t* rows, std::size_t live, const char* what,
                        std::size_t width = kPanelRows) {
  const std::size_t n = a.m.cols;
  std::vector<T> dst(n * kPanelRows, T(-7));
  mpcore::cpu::pack_panel<T>(a.m, p, dst.data(), rows, live, width);
  const std::size_t lanes = rows ? live : std::min(kPanelRows, a.m.rows - p * kPanelRows);
  long bad = 0;
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t l = 0; l < kPanelRows; ++l) {
      const T want = l >= width ? T(-7)
                     : l < lanes ? static_cast<T>(value_at(a, rows ? rows[l] : p * kPanelRows + l, j))
                                 : T(0);
      bad += std::memcmp(&dst[j * kPanelRows + l], &want, sizeof(T)) != 0;
    }
  CHECK(bad == 0,
        "%s: %ld of %zu values wrong (storage %d, n %zu, panel %zu, lanes %zu, width %zu, magnitude %d, stride %td)",
        what, bad, dst.size(), static_cast<int>(a.m.storage), n, p, lanes, width, a.m.magnitude, a.m.col_stride);
}

int main() {
  std::mt19937 g(7);
  for (Storage s : {Storage::Float32, Storage::Float64, Storage::Code8, Storage::Code16})
    for (std::size_t n : {1, 3, 4, 5, 63, 64, 65, 130, 257})
      for (std::ptrdiff_t stride : {1, 3})
        for (bool magnitude : {false, true}) {
          Operand a = make(s, 70, n, stride, g);  // panels of 32, 32 and 6 rows
          a.m.magnitude = magnitude;
          for (std::size_t p = 0; p < 3; ++p) {
            check_panel<double>(a, p, nullptr, kPanelRows, "binary64 panel");
            if (s != Storage::Float64) check_panel<float>(a, p, nullptr, kPanelRows, "binary32 panel");
          }
          std::vector<std::size_t> rows(kPanelRows);
          for (std::size_t l = 0; l < rows.size(); ++l) rows[l] = (l * 37 + 11) % 70;  // scattered, some twice
          for (std::size_t live : {1, 13, 31, 32}) {
            check_panel<double>(a, 0, rows.data(), live, "binary64 listed rows");
            if (s != Storage::Float64) check_panel<float>(a, 0, rows.data(), live, "binary32 listed rows");
          }
          for (std::size_t live : {1, 13, 16}) {  // a half panel (a tail of outputs)
            check_panel<double>(a, 0, rows.data(), live, "binary64 half panel", kPanelRows / 2);
            if (s != Storage::Float64) check_panel<float>(a, 0, rows.data(), live, "binary32 half panel", kPanelRows / 2);
          }
        }
  return report("test_packing");
}
