// C++ exceptions across frames: throw/catch/rethrow, catch(...), nested try, destructors while unwinding, exception_ptr.
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>

struct Guard {
  std::string name;
  explicit Guard(std::string n) : name(std::move(n)) { std::printf("  enter %s\n", name.c_str()); }
  ~Guard() { std::printf("  leave %s%s\n", name.c_str(), std::uncaught_exceptions() ? " (unwinding)" : ""); }
};

struct AppError : std::runtime_error {
  int code;
  AppError(const std::string &m, int c) : std::runtime_error(m), code(c) {}
};
struct NotFound : AppError {
  explicit NotFound(const std::string &what) : AppError("not found: " + what, 404) {}
};

[[gnu::noinline]] static int leaf(int kind) {
  Guard g("leaf");
  switch (kind) {
  case 0: return 1;
  case 1: throw NotFound("key");
  case 2: throw AppError("generic", 500);
  case 3: throw 42;
  case 4: throw std::string("a string");
  default: throw std::logic_error("bad kind");
  }
}
[[gnu::noinline]] static int middle(int kind) {
  Guard g("middle");
  try {
    return leaf(kind) + 10;
  } catch (const NotFound &e) {
    std::printf("  middle saw NotFound, rethrowing\n");
    throw;  // rethrow the same object
  }
}
[[gnu::noinline]] static int outer(int kind) {
  Guard g("outer");
  int r = middle(kind);
  return r + 100;
}

static void run(int kind) {
  std::printf("run(%d)\n", kind);
  try {
    int r = outer(kind);
    std::printf("  result %d\n", r);
  } catch (const AppError &e) {
    std::printf("  caught AppError code=%d what=%s\n", e.code, e.what());
  } catch (int v) {
    std::printf("  caught int %d\n", v);
  } catch (const std::exception &e) {
    std::printf("  caught std::exception: %s\n", e.what());
  } catch (...) {
    std::printf("  caught something else\n");
  }
}

struct Part {
  int id;
  explicit Part(int i) : id(i) {
    if (i == 3) throw std::runtime_error("part 3 failed");
    std::printf("  part %d built\n", id);
  }
  ~Part() { std::printf("  part %d destroyed\n", id); }
};
struct Assembly {
  Part a{1}, b{2}, c{3};  // c throws: b then a must be destroyed
};

int main() {
  for (int k = 0; k <= 5; k++) run(k);

  std::printf("nested try\n");
  int score = 0;
  try {
    try {
      throw std::out_of_range("inner");
    } catch (const std::out_of_range &e) {
      score += 1;
      try {
        throw std::runtime_error(std::string("while handling ") + e.what());
      } catch (const std::runtime_error &e2) {
        score += 10;
        std::printf("  innermost: %s\n", e2.what());
      }
      throw;  // rethrow out_of_range
    }
  } catch (const std::logic_error &e) {
    score += 100;
    std::printf("  outer caught %s as logic_error\n", e.what());
  }
  std::printf("score=%d\n", score);

  std::printf("constructor failure\n");
  try {
    Assembly a;
    std::printf("  not reached %d\n", a.a.id);
  } catch (const std::exception &e) {
    std::printf("  caught: %s\n", e.what());
  }

  std::exception_ptr saved;
  try {
    outer(2);
  } catch (...) {
    saved = std::current_exception();
  }
  try {
    std::rethrow_exception(saved);
  } catch (const AppError &e) {
    std::printf("exception_ptr rethrown: %s %d\n", e.what(), e.code);
    return e.code % 256 - 222;  // 500 % 256 = 244 -> 22
  }
  return 1;
}
