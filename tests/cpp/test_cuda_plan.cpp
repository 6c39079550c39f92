// The host-side logic of the CUDA kernels, checked on the CPU: thread-to-output mapping,
// launch sizes, and which outputs a ladder recompute visits.
#include <cstdint>
#include <set>
#include <vector>

#include "check.hpp"
#include <mpcore/cuda/plan.hpp>

using namespace mpcore::cuda;

int main() {
  for (std::size_t batch : {1u, 3u, 256u})
    for (std::size_t out : {1u, 10u, 128u, 784u}) {
      const std::size_t total = batch * out;
      const Launch g = launch_for(total);
      CHECK(static_cast<std::size_t>(g.blocks) * g.threads >= total, "grid covers every output");
      CHECK(static_cast<std::size_t>(g.blocks - 1) * g.threads < total, "no block is idle");
      std::set<std::pair<std::size_t, std::size_t>> seen;
      for (std::size_t t = 0; t < total; ++t) {
        std::size_t r, i;
        output_of(t, out, r, i);
        CHECK(r < batch && i < out && r * out + i == t, "thread %zu maps to (%zu, %zu)", t, r, i);
        seen.insert({r, i});
        if (t + 1 < total && (t + 1) % out) {
          std::size_t r2, i2;
          output_of(t + 1, out, r2, i2);
          CHECK(r2 == r && i2 == i + 1, "adjacent threads take adjacent features of one row (coalesced W^T)");
        }
      }
      CHECK(seen.size() == total, "every output exactly once");
    }
  // Recompute lists: rung 0 is never visited; each other entry exactly once, in its rung.
  const std::vector<std::int32_t> rung = {0, 2, 1, 0, 2, 2, 1, 0, 3};
  const auto lists = recompute_lists(rung.data(), rung.size(), 3);  // rung 3 is out of range: ignored
  CHECK(lists.size() == 3 && lists[0].empty(), "rung 0 stays");
  CHECK((lists[1] == std::vector<std::size_t>{2, 6}), "rung 1 entries");
  CHECK((lists[2] == std::vector<std::size_t>{1, 4, 5}), "rung 2 entries");
  CHECK(launch_for(0).blocks == 1, "empty launches are valid");
  return report("test_cuda_plan");
}
