// std::atomic with std::thread: counters, CAS, atomic<bool> handoff, spin mutex, atomic<struct>, thread-safe local static.
#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

struct Pair { int a, b; };

static std::atomic<long> counter{0};
static std::atomic<int> high{-1};
static std::atomic<bool> go{false};
static std::atomic_flag spin = ATOMIC_FLAG_INIT;
static long protected_sum = 0;
static std::atomic<int> init_calls{0};

struct Expensive {
  int value;
  Expensive() : value(++init_calls * 1000) {}
};
static const Expensive &shared_instance() {
  static Expensive e;   // guarded, thread-safe initialization: constructed exactly once
  return e;
}

int main() {
  const int nthreads = 4, iters = 25000;
  std::vector<std::thread> threads;
  std::atomic<int> instance_sum{0};
  for (int t = 0; t < nthreads; t++) {
    threads.emplace_back([t, &instance_sum] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      instance_sum += shared_instance().value;
      for (int i = 0; i < iters; i++) {
        counter.fetch_add(1, std::memory_order_relaxed);
        int v = t * iters + i, cur = high.load();
        while (v > cur && !high.compare_exchange_weak(cur, v)) {
        }
        if (i % 50 == 0) {
          while (spin.test_and_set(std::memory_order_acquire)) {
          }
          protected_sum += i;
          spin.clear(std::memory_order_release);
        }
      }
    });
  }
  go.store(true, std::memory_order_release);
  for (auto &th : threads) th.join();
  std::printf("counter=%ld high=%d protected_sum=%ld\n", counter.load(), high.load(), protected_sum);
  std::printf("init_calls=%d instance_sum=%d\n", init_calls.load(), instance_sum.load());

  std::atomic<Pair> pair{{1, 2}};
  Pair old = pair.exchange({3, 4});
  Pair now = pair.load();
  std::printf("pair old=%d,%d now=%d,%d\n", old.a, old.b, now.a, now.b);

  std::atomic<unsigned> flags{0};
  std::vector<std::thread> setters;
  for (unsigned i = 0; i < 8; i++) setters.emplace_back([i, &flags] { flags.fetch_or(1u << i); });
  for (auto &th : setters) th.join();
  std::printf("flags=0x%x\n", flags.load());

  std::atomic<int> x{7};
  int expected = 8;
  bool ok = x.compare_exchange_strong(expected, 9);
  int before_sub = x.fetch_sub(2);
  std::printf("cas failed=%d expected now=%d fetch_sub=%d final=%d\n", !ok, expected, before_sub, x.load());
  return 36;
}
