// C++ thread_local: dynamic initializer, destructor at thread exit (and main thread's at exit), function-local thread_local.
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

static int next_serial = 0;       // only touched while one thread is running (threads run one at a time)
static std::string finished[4];   // written by destructors at thread exit

static int compute_start() { return 1000 + 10 * next_serial++; }

struct Tracker {
  int id;
  int value;
  std::string log;
  Tracker() : id(-1), value(compute_start()), log("init") {}
  ~Tracker() {
    if (id >= 0 && id < 4) finished[id] = log + " final=" + std::to_string(value);
    else std::printf("main thread Tracker destroyed: value=%d log=%s\n", value, log.c_str());
  }
};

thread_local Tracker tracker;                   // dynamic init + non-trivial destructor
thread_local int plain_tls = 7;                 // constant-initialized
thread_local std::vector<int> tls_vec{1, 2, 3}; // dynamic init with heap allocation

static int per_thread_calls() {
  thread_local int calls = 0;                   // function-local thread_local
  return ++calls;
}

static void work(int id) {
  tracker.id = id;
  for (int i = 0; i <= id; i++) {
    tracker.value += per_thread_calls();
    tracker.log += "+";
  }
  plain_tls += id;
  tls_vec.push_back(id * 10);
  int s = 0;
  for (int v : tls_vec) s += v;
  tracker.log += " plain=" + std::to_string(plain_tls) + " vec=" + std::to_string(s);
}

int main() {
  // Touch main's tracker first so its initializer gets serial 0.
  std::printf("main tracker start=%d\n", tracker.value);
  for (int id = 0; id < 4; id++) {
    std::thread t(work, id);
    t.join();   // one thread at a time: initialization order (and serials) is deterministic
  }
  for (int id = 0; id < 4; id++) std::printf("thread %d: %s\n", id, finished[id].c_str());
  tracker.log += " main-done";
  tracker.value += per_thread_calls();
  std::printf("main: plain=%d vec_size=%zu calls=%d\n", plain_tls, tls_vec.size(), per_thread_calls());
  return 19;
}
