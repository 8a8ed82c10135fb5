// Static constructors and destructors and an atexit handler.
#include <cstdio>
#include <cstdlib>

struct Init {
  int v;
  Init() : v(42) { std::printf("static ctor ran\n"); std::fflush(stdout); }
  ~Init() { std::printf("static dtor ran\n"); std::fflush(stdout); }
};
static Init TheInit;
static void bye() { std::printf("atexit handler ran\n"); std::fflush(stdout); }

int main() {
  std::atexit(bye);
  std::printf("main: v=%d\n", TheInit.v);
  std::fflush(stdout);
  return 0;
}
