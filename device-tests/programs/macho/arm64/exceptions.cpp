// C++ exceptions across JIT'd frames on arm64 Darwin code (compact unwind turned into DWARF
// CFI), output through puts only (no variadic calls across the boundary).
extern "C" int puts(const char *);

struct Guard {
  const char *name;
  explicit Guard(const char *n) : name(n) {}
  ~Guard() { puts(name); }
};
struct Error {
  int code;
};

__attribute__((noinline)) int thrower(int x) {
  Guard g("unwound thrower");
  if (x > 2) throw Error{x};
  return x;
}

__attribute__((noinline)) int middle(int x) {
  Guard g("unwound middle");
  volatile long pad[64];
  pad[x] = x;
  return thrower(x) + static_cast<int>(pad[x]) * 0;
}

int main() {
  int total = 0;
  for (int i = 0; i < 5; i++) {
    try {
      total += middle(i);
    } catch (const Error &e) {
      puts("caught");
      total += e.code * 10;
    }
  }
  try {
    throw 5;
  } catch (...) {
    puts("caught anything");
  }
  return total;
}
