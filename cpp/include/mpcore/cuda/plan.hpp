// Host-side plan of the CUDA kernels: how threads map to outputs and which outputs a
// recompute visits. Plain C++ (no CUDA needed), so the CPU tests check it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "../config.hpp"

namespace mpcore::cuda {

inline constexpr unsigned kThreadsPerBlock = 128;

// One thread per output; thread t computes output t = r * out + i. Adjacent threads take
// adjacent output features i of the same input row r: their loads of W^T (stored (in, out))
// are coalesced and their loads of x[r, j] are one broadcast.
struct Launch {
  unsigned blocks;
  unsigned threads;
};

inline Launch launch_for(std::size_t outputs) {
  const std::size_t blocks = (outputs + kThreadsPerBlock - 1) / kThreadsPerBlock;
  return Launch{static_cast<unsigned>(blocks ? blocks : 1), kThreadsPerBlock};
}

MPCORE_HD inline void output_of(std::size_t t, std::size_t out, std::size_t& r, std::size_t& i) {
  r = t / out;
  i = t % out;
}

// The outputs of each rung k >= 1 (rung 0 keeps its first result), in increasing
// order: the lists a ladder recompute launches one kernel over, one thread per entry.
inline std::vector<std::vector<std::size_t>> recompute_lists(const std::int32_t* rung, std::size_t total, int rungs) {
  std::vector<std::vector<std::size_t>> lists(rungs > 0 ? rungs : 0);
  for (std::size_t e = 0; e < total; ++e)
    if (rung[e] > 0 && rung[e] < rungs) lists[rung[e]].push_back(e);
  return lists;
}

}  // namespace mpcore::cuda
