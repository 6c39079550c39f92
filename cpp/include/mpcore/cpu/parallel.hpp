// A fixed partition of independent tasks over threads. Each task writes its own
// outputs and its result does not depend on which thread runs it, so results
// are identical for every thread count.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <system_error>
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

// A hook the calling thread runs between tasks, at most every few milliseconds: it throws
// to stop the work (the Python module installs one that raises KeyboardInterrupt on Ctrl-C).
// Null by default: C++ users get no checks unless they install one.
using InterruptCheck = void (*)();
inline InterruptCheck& interrupt_check() {
  static InterruptCheck hook = nullptr;
  return hook;
}

// At most this many threads per call, whatever the caller asks (results do not depend on it).
inline constexpr int kMaxThreads = 1024;

// Calls body(begin, end) on ranges covering [0, tasks), on up to `threads` threads. Ranges
// of consecutive tasks (about 64 per thread, so a range stays short) are handed out in
// turn, so a thread that cannot be started (out of memory, a ulimit)
// only means fewer workers, and the calling thread can stop everything between two tasks
// when interrupt_check() throws: the workers finish their current task, then the exception
// (or a worker's own) is rethrown here. Results never depend on which thread ran a task.
// min_grain: tasks that share work (consecutive tasks of one packed panel) stay together.
template <class Body>
void parallel_for(std::size_t tasks, int threads, const Body& body, std::size_t min_grain = 1) {
  if (threads <= 0) threads = default_threads();
  const std::size_t workers = std::min<std::size_t>(std::min(threads, kMaxThreads), tasks);
  const std::size_t grain = std::max<std::size_t>(std::max<std::size_t>(min_grain, 1),
                                                  tasks / (64 * (workers ? workers : 1)));
  const std::size_t ranges = (tasks + grain - 1) / grain;
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::vector<std::exception_ptr> errors(workers ? workers : 1);
  // Worker w takes ranges until none is left or one failed; `check` only on the calling thread.
  auto run = [&](std::size_t w, InterruptCheck check) {
    auto last = std::chrono::steady_clock::now();
    try {
      for (std::size_t g; !stop.load(std::memory_order_relaxed) && (g = next.fetch_add(1)) < ranges;) {
        body(g * grain, std::min(tasks, (g + 1) * grain));
        if (check && std::chrono::steady_clock::now() - last > std::chrono::milliseconds(20)) {
          check();
          last = std::chrono::steady_clock::now();
        }
      }
    } catch (...) {
      errors[w] = std::current_exception();
      stop = true;
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t w = 1; w < workers; ++w) {
    try {
      pool.emplace_back(run, w, nullptr);
    } catch (const std::system_error&) {
      break;  // no more threads to be had: the ones running take the remaining ranges
    }
  }
  run(0, interrupt_check());
  for (auto& t : pool) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace mpcore::cpu
