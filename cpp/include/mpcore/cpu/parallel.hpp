// A fixed partition of independent tasks over threads. Each task writes its own
// outputs and its result does not depend on which thread runs it, so results
// are identical for every thread count.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace mpcore::cpu {

// Threads to use when the caller says 0: $MPCORE_NUM_THREADS, else all cores.
inline int default_threads() {
  if (const char* env = std::getenv("MPCORE_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  // Read once: glibc opens /sys/devices/system/cpu/online on every call (microseconds, as
  // much as a small product).
  static const unsigned hw = std::thread::hardware_concurrency();
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

namespace threading {

// The pause inside a spin-wait (x86 pause, Arm yield): lets the sibling hyperthread run.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#else
  std::this_thread::yield();
#endif
}

// Spins up to about 50 us for done() to hold; false if it still does not.
template <class Done>
bool spin_until(const Done& done) {
  constexpr auto kSpin = std::chrono::microseconds(50);
  const auto start = std::chrono::steady_clock::now();
  for (unsigned i = 1;; ++i) {
    if (done()) return true;
    cpu_relax();
    if (i % 32 == 0 && std::chrono::steady_clock::now() - start > kSpin) return done();
  }
}

inline long process_id() {
#if defined(__unix__) || defined(__APPLE__)
  return static_cast<long>(::getpid());
#else
  return 0;
#endif
}

// Worker threads kept between parallel_for calls. Starting a std::thread costs about 40 us,
// as much as a small matmul (an attention head's products are many such calls); a kept
// worker spins about 50 us after each job, then sleeps until the next. One job at a time:
// a call that finds the pool busy (another thread's call, or a nested one) returns false
// and its caller starts threads of its own. Never destroyed (workers may still be waiting
// at exit); a forked child, which has none of its parent's workers, gets a new pool.
class WorkerPool {
 public:
  static constexpr std::size_t kMaxWorkers = 255;

  static WorkerPool& instance() {
    static std::mutex m;
    static WorkerPool* pool = nullptr;
    std::lock_guard<std::mutex> lock(m);
    const long pid = process_id();
    if (!pool || pool->pid_ != pid) pool = new WorkerPool(pid);
    return *pool;
  }

  // Runs job(w) on `helpers` workers (w = 1..helpers) while the caller runs job(0), and
  // returns when all have finished; false (nothing run) when the pool is busy or cannot
  // have that many workers.
  bool run(std::size_t helpers, const std::function<void(std::size_t)>& job) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock() || helpers > kMaxWorkers || !grow(helpers)) return false;
    {
      std::lock_guard<std::mutex> lock(m_);
      job_ = &job;
      active_.store(helpers, std::memory_order_relaxed);
      remaining_.store(helpers, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
    }
    for (std::size_t w = 1; w <= helpers; ++w) wake_[w - 1]->notify_one();  // the others sleep on
    job(0);
    if (!spin_until([&] { return remaining_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lock(m_);
      done_.wait(lock, [&] { return remaining_.load(std::memory_order_acquire) == 0; });
    }
    return true;
  }

 private:
  explicit WorkerPool(long pid) : pid_(pid) {}

  bool grow(std::size_t n) {
    try {
      for (; workers_ < n; ++workers_) {
        {
          std::lock_guard<std::mutex> lock(m_);  // running workers read wake_ under m_
          if (wake_.size() == workers_) wake_.push_back(std::make_unique<std::condition_variable>());
        }
        std::thread([this, id = workers_ + 1] { work(id); }).detach();
      }
    } catch (const std::system_error&) {
      return false;  // no more threads to be had: this call starts none either
    }
    return true;
  }

  // Worker id takes part in a job when there is a new one and it is among the first
  // `active_` (the others stay asleep: with more workers than cores, a spinning worker
  // that has nothing to do would take a core from one that has).
  void work(std::size_t id) {
    std::uint64_t seen = 0;
    auto mine = [&] {
      return generation_.load(std::memory_order_acquire) != seen && id <= active_.load(std::memory_order_relaxed);
    };
    std::condition_variable* wake;
    {
      std::lock_guard<std::mutex> lock(m_);
      wake = wake_[id - 1].get();
    }
    for (;;) {
      spin_until(mine);
      const std::function<void(std::size_t)>* job;
      {
        std::unique_lock<std::mutex> lock(m_);
        wake->wait(lock, mine);
        seen = generation_.load(std::memory_order_relaxed);
        job = job_;
      }
      (*job)(id);
      if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(m_);
        done_.notify_one();
      }
    }
  }

  const long pid_;
  std::mutex busy_, m_;
  std::condition_variable done_;
  std::vector<std::unique_ptr<std::condition_variable>> wake_;  // one per worker; grown under busy_ and m_
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::size_t> remaining_{0}, active_{0};  // written under m_
  std::size_t workers_ = 0;                             // under busy_
  const std::function<void(std::size_t)>* job_ = nullptr;
};

}  // namespace threading

// Calls body(begin, end) on ranges covering [0, tasks), on up to `threads` threads (kept
// workers where the pool is free, new ones otherwise). Ranges of consecutive tasks (about
// 64 per thread, so a range stays short) are handed out in turn, so a thread that cannot
// be started (out of memory, a ulimit) only means fewer workers, and the calling thread
// can stop everything between two tasks when interrupt_check() throws: the workers finish
// their current task, then the exception (or a worker's own) is rethrown here. Results
// never depend on which thread ran a task.
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
  if (workers <= 1) {
    run(0, interrupt_check());
  } else if (!threading::WorkerPool::instance().run(
                 workers - 1, [&](std::size_t w) { run(w, w == 0 ? interrupt_check() : nullptr); })) {
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
  }
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace mpcore::cpu
