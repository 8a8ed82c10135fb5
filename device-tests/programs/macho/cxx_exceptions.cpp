// C++ exceptions thrown and caught across JIT'd frames on Darwin (compact unwind turned into
// DWARF CFI by the linker), with destructors run during unwinding, rethrow, catch(...), and
// exceptions of class types with virtual bases, without the SDK's headers.
extern "C" int printf(const char *, ...);

struct Guard {
  const char *name;
  explicit Guard(const char *n) : name(n) {}
  ~Guard() { printf("unwound %s\n", name); }
};
struct Base {
  virtual ~Base() {}
  virtual int code() const { return 1; }
};
struct Derived : Base {
  int v;
  explicit Derived(int v) : v(v) {}
  int code() const override { return v; }
};

__attribute__((noinline)) int thrower(int x) {
  Guard g("thrower");
  if (x == 1) throw 42;
  if (x == 2) throw Derived(7);
  if (x == 3) throw "text";
  return x;
}

__attribute__((noinline)) int middle(int x) {
  Guard g("middle");
  long pad[64];
  pad[x] = x;
  return thrower(x) + static_cast<int>(pad[x]) * 0;
}

static int rethrows(int x) {
  try {
    return middle(x);
  } catch (...) {
    printf("rethrowing\n");
    throw;
  }
}

int main() {
  int score = 0;
  for (int i = 0; i < 5; i++) {
    try {
      score += rethrows(i);
    } catch (int v) {
      printf("caught int %d\n", v);
      score += v;
    } catch (const Base &b) {
      printf("caught Base with code %d\n", b.code());
      score += b.code();
    } catch (const char *s) {
      printf("caught string %s\n", s);
      score += 100;
    }
  }
  printf("score %d\n", score);
  return score % 256;
}
