// C++ static initialization order within one file and atexit handlers interleaved with static destructors.
#include <cstdio>
#include <cstdlib>
#include <string>

static std::string trace;  // constructed first (declared first), destroyed last

struct Noisy {
  const char *name;
  int value;
  Noisy(const char *n, int v) : name(n), value(v) {
    trace += name;
    trace += ' ';
    std::printf("construct %s (value %d)\n", name, value);
  }
  ~Noisy() { std::printf("destroy %s\n", name); }
};

static void handler_a() { std::printf("atexit handler A\n"); }
static void handler_b() { std::printf("atexit handler B\n"); }
static void handler_c() { std::printf("atexit handler C (registered in main)\n"); }
static void handler_d() { std::printf("atexit handler D (registered by a destructor-less init)\n"); }

static int compute(int x) { return x * 3 + 1; }

Noisy first("first", 1);
static int registered_a = (std::atexit(handler_a), 10);    // between first and second
Noisy second("second", first.value + registered_a);       // depends on earlier-defined objects
static int dynamic_int = compute(second.value);           // dynamic init of a plain int
static Noisy third("third", dynamic_int);
static int registered_b = (std::atexit(handler_b), 20);
constexpr int kConst = 5;                                  // constant init, no code
int const_inited = kConst * 2;                             // static (constant) initialization

static Noisy &lazy() {
  static Noisy instance("lazy", 99);                        // constructed on first call, in main
  return instance;
}

struct Registrar {
  Registrar() { std::atexit(handler_d); std::printf("registrar ran\n"); }
};
static Registrar registrar;                                 // trivial destructor: nothing registered

int main() {
  std::printf("main starts; trace: %s\n", trace.c_str());
  std::printf("dynamic_int=%d registered=%d,%d const_inited=%d\n", dynamic_int, registered_a,
              registered_b, const_inited);
  std::atexit(handler_c);
  std::printf("lazy value=%d\n", lazy().value);
  std::printf("lazy again=%d\n", lazy().value);
  std::printf("main returns\n");
  return 21;
}
