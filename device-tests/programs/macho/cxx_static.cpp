// C++ without the SDK's headers, for Darwin targets: static constructors in order, destructors
// in reverse, atexit interleaved, function-local statics, virtual dispatch and templates.
extern "C" int printf(const char *, ...);
extern "C" int atexit(void (*)(void));

struct Noisy {
  const char *name;
  explicit Noisy(const char *n) : name(n) { printf("construct %s\n", name); }
  ~Noisy() { printf("destroy %s\n", name); }
};

Noisy first("first");
static void at_exit_handler() { printf("atexit handler\n"); }
static int registered = atexit(at_exit_handler);
Noisy second("second");

struct Shape {
  virtual ~Shape() {}
  virtual int area() const = 0;
};
struct Rect : Shape {
  int w, h;
  Rect(int w, int h) : w(w), h(h) {}
  int area() const override { return w * h; }
};
struct Square : Rect {
  explicit Square(int s) : Rect(s, s) {}
  int area() const override { return Rect::area() + 0; }
};

template <typename T> T sum(const T *v, int n) {
  T s = T();
  for (int i = 0; i < n; i++) s += v[i];
  return s;
}

static Noisy &lazy() {
  static Noisy n("lazy");
  return n;
}

inline int counter = 40;

int main() {
  Rect r(3, 4);
  Square q(5);
  const Shape *shapes[] = {&r, &q};
  int total = 0;
  for (const Shape *s : shapes) total += s->area();
  double d[] = {1.5, 2.5, 3.0};
  int i[] = {1, 2, 3, 4};
  printf("areas %d sums %.1f %d registered %d\n", total, sum(d, 3), sum(i, 4), registered);
  printf("lazy %s\n", lazy().name);
  counter += 2;
  return counter;
}
