// An exception thrown several JIT'd frames deep and caught in main, plus virtual dispatch and
// standard containers from the executor's libstdc++.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

struct Shape {
  virtual ~Shape() = default;
  virtual double area() const = 0;
  virtual const char *name() const = 0;
};
struct Square : Shape {
  double s;
  explicit Square(double s) : s(s) {}
  double area() const override { return s * s; }
  const char *name() const override { return "square"; }
};
struct Rect : Shape {
  double w, h;
  Rect(double w, double h) : w(w), h(h) {}
  double area() const override { return w * h; }
  const char *name() const override { return "rect"; }
};

struct Guard {
  const char *what;
  ~Guard() { std::printf("unwinding through %s\n", what); }
};

[[gnu::noinline]] int level3(int x) {
  Guard g{"level3"};
  if (x > 2) throw std::runtime_error("depth " + std::to_string(x));
  return x;
}
[[gnu::noinline]] int level2(int x) {
  Guard g{"level2"};
  return level3(x + 1) * 2;
}
[[gnu::noinline]] int level1(int x) {
  Guard g{"level1"};
  return level2(x + 1) + 1;
}

int main() {
  std::vector<Shape *> shapes{new Square(3), new Rect(2, 5)};
  double total = 0;
  for (Shape *s : shapes) {
    std::printf("%s %.1f\n", s->name(), s->area());
    total += s->area();
  }
  for (Shape *s : shapes) delete s;
  std::string msg = "total " + std::to_string(static_cast<int>(total));
  std::printf("%s\n", msg.c_str());
  try {
    level1(1);
    std::printf("not reached\n");
  } catch (const std::exception &e) {
    std::printf("caught: %s\n", e.what());
    return 5;
  }
  return 0;
}
