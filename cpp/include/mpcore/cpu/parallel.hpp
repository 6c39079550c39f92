// A fixed partition of independent tasks over threads. Each task writes its own
// outputs and its result does not depend on which thread runs it, so results
// are identical for every thread count.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <thread>
#include <vector>

namespace mpcore::cpu {

// Threads to use when the caller says 0: $MPCORE_NUM_THREADS, else all cores.
inline int default_threads() {
  if (const char* env = std::getenv("MPCORE_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw ? static_cast<int>(hw) : 1;
}

// Calls body(begin, end) on contiguous ranges of [0, tasks), one range per thread.
template <class Body>
void parallel_for(std::size_t tasks, int threads, const Body& body) {
  if (threads <= 0) threads = default_threads();
  const std::size_t workers = std::min<std::size_t>(static_cast<std::size_t>(threads), tasks);
  if (workers <= 1) {
    if (tasks) body(std::size_t{0}, tasks);
    return;
  }
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(workers);
  pool.reserve(workers - 1);
  auto run = [&](std::size_t w) {
    const std::size_t begin = tasks * w / workers, end = tasks * (w + 1) / workers;
    try {
      body(begin, end);
    } catch (...) {
      errors[w] = std::current_exception();
    }
  };
  for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(run, w);
  run(0);
  for (auto& t : pool) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace mpcore::cpu
