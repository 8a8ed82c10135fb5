// std::exit(9) from C++: static and function-local-static destructors and atexit handlers run; automatic objects do not.
#include <cstdio>
#include <cstdlib>
#include <string>

struct Announce {
  std::string name;
  explicit Announce(const char *n) : name(n) { std::printf("construct %s\n", name.c_str()); }
  ~Announce() { std::printf("destroy %s\n", name.c_str()); }
};

Announce global_a("global_a");
static Announce global_b("global_b");

static Announce &local_static() {
  static Announce s("function_local_static");
  return s;
}

static void on_exit_handler() { std::printf("atexit handler\n"); }

[[noreturn]] static void fail(const Announce &why) {
  std::printf("fail(%s): calling std::exit(9)\n", why.name.c_str());
  std::exit(9);
}

int main() {
  std::printf("main starts\n");
  std::atexit(on_exit_handler);
  local_static();
  Announce automatic("automatic_in_main");  // std::exit does not unwind: never destroyed
  {
    Announce scoped("scoped_block");
  }
  fail(automatic);
}
