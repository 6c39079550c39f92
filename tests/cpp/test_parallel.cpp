// parallel_for and its kept workers: every task runs exactly once for any task and thread
// count, back-to-back calls, calls nested in a task, calls from several threads at once,
// exceptions, and a forked child (which has none of its parent's workers).
#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <thread>
#include <vector>

#if defined(__unix__)
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "check.hpp"
#include "mpcore/cpu/parallel.hpp"

using mpcore::cpu::parallel_for;

// Runs parallel_for(tasks, threads) and checks each task was seen exactly once.
static bool each_once(std::size_t tasks, int threads, std::size_t grain = 1) {
  std::vector<std::atomic<int>> seen(tasks);
  for (auto& s : seen) s = 0;
  parallel_for(tasks, threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t t = begin; t < end; ++t) seen[t].fetch_add(1);
  }, grain);
  for (auto& s : seen)
    if (s.load() != 1) return false;
  return true;
}

static void counts_and_threads() {
  for (std::size_t tasks : {0, 1, 2, 3, 7, 64, 65, 1000, 100000})
    for (int threads : {1, 2, 3, 8, 300})
      for (std::size_t grain : {1, 5})
        CHECK(each_once(tasks, threads, grain), "tasks %zu threads %d grain %zu", tasks, threads, grain);
}

static void back_to_back() {
  int bad = 0;
  for (int call = 0; call < 5000; ++call) bad += !each_once(1 + call % 17, 2 + call % 3);
  CHECK(bad == 0, "%d of 5000 back-to-back calls lost or repeated a task", bad);
}

// A task that calls parallel_for itself (the pool is busy then: the inner call starts
// threads of its own) must neither deadlock nor lose work.
static void nested() {
  std::vector<std::atomic<int>> seen(16 * 50);
  for (auto& s : seen) s = 0;
  parallel_for(16, 4, [&](std::size_t begin, std::size_t end) {
    for (std::size_t outer = begin; outer < end; ++outer)
      parallel_for(50, 3, [&](std::size_t b, std::size_t e) {
        for (std::size_t inner = b; inner < e; ++inner) seen[outer * 50 + inner].fetch_add(1);
      });
  });
  int bad = 0;
  for (auto& s : seen) bad += s.load() != 1;
  CHECK(bad == 0, "%d nested tasks lost or repeated", bad);
}

static void concurrent_callers() {
  std::atomic<int> bad{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&, c] {
      for (int call = 0; call < 300; ++call) bad += !each_once(100 + c, 2 + call % 3);
    });
  for (auto& t : callers) t.join();
  CHECK(bad.load() == 0, "%d calls from concurrent threads lost or repeated a task", bad.load());
}

static void exceptions() {
  for (int threads : {1, 2, 4}) {
    bool caught = false;
    try {
      parallel_for(1000, threads, [&](std::size_t begin, std::size_t end) {
        for (std::size_t t = begin; t < end; ++t)
          if (t == 517) throw std::runtime_error("task 517");
      });
    } catch (const std::runtime_error&) {
      caught = true;
    }
    CHECK(caught, "the exception of a task did not reach the caller (threads %d)", threads);
    CHECK(each_once(1000, threads), "the call after an exception (threads %d)", threads);
  }
}

// Not under ThreadSanitizer: it does not support a threaded process's fork (the child may
// hang in its runtime); ASan and the plain builds run it.
#if defined(__SANITIZE_THREAD__)
#define MPCORE_TEST_FORK 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MPCORE_TEST_FORK 0
#endif
#endif
#if !defined(MPCORE_TEST_FORK) && defined(__unix__)
#define MPCORE_TEST_FORK 1
#endif

static void forked_child() {
#if MPCORE_TEST_FORK
  CHECK(each_once(1000, 3), "before fork");  // the parent's pool has workers now
  std::fflush(nullptr);
  const pid_t child = fork();
  if (child == 0) {
    alarm(60);  // a child waiting on workers it does not have dies instead of hanging the test
    _exit(each_once(1000, 3) && each_once(50, 2) ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a forked child's parallel_for (status %d)", status);
  CHECK(each_once(1000, 3), "the parent after fork");
#endif
}

int main() {
  counts_and_threads();
  back_to_back();
  nested();
  concurrent_callers();
  exceptions();
  forked_child();
  return report("test_parallel");
}
