// std::function and lambdas: captures by value/reference, mutable, generic, recursive, stored in containers, std::bind.
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

static int apply_twice(const std::function<int(int)> &f, int x) { return f(f(x)); }

template <typename F>
static auto compose(F f, F g) {
  return [f, g](auto x) { return f(g(x)); };
}

static std::function<int()> make_counter(int start) {
  auto state = std::make_shared<int>(start);
  return [state]() { return (*state)++; };  // captured shared state outlives the factory
}

static int plain_function(int a, int b, int c) { return a * 100 + b * 10 + c; }

struct Multiplier {
  int factor;
  int operator()(int x) const { return x * factor; }
  int scaled(int x, int y) const { return (x + y) * factor; }
};

int main() {
  int base = 10;
  auto add_base = [base](int x) { return x + base; };
  auto add_ref = [&base](int x) { return x + base; };
  base = 20;
  std::printf("by value=%d by ref=%d\n", add_base(1), add_ref(1));

  std::printf("apply_twice(lambda)=%d apply_twice(functor)=%d\n", apply_twice([](int x) { return x * 3; }, 2),
              apply_twice(Multiplier{5}, 2));

  int calls = 0;
  auto mut = [calls]() mutable { return ++calls; };
  mut();
  mut();
  std::printf("mutable copy calls=%d outer calls=%d\n", mut(), calls);

  auto generic = [](auto a, auto b) { return a + b; };
  std::printf("generic int=%d double=%.2f string=%s\n", generic(2, 3), generic(1.25, 2.5),
              generic(std::string("ab"), std::string("cd")).c_str());

  std::function<long(int)> fib = [&fib](int n) -> long { return n < 2 ? n : fib(n - 1) + fib(n - 2); };
  std::printf("fib(25)=%ld\n", fib(25));

  auto inc = [](int x) { return x + 1; };
  auto dbl = [](int x) { return x * 2; };
  std::function<int(int)> fi = inc, fd = dbl;
  auto both = compose(fi, fd);
  std::printf("compose(inc, dbl)(5)=%d\n", both(5));

  auto c1 = make_counter(100), c2 = make_counter(0);
  c1();
  c1();
  std::printf("counters %d %d\n", c1(), c2());

  std::map<std::string, std::function<double(double, double)>> ops{
      {"add", [](double a, double b) { return a + b; }},
      {"mul", [](double a, double b) { return a * b; }},
      {"max", [](double a, double b) { return a > b ? a : b; }},
  };
  for (auto &kv : ops) std::printf("%s(6, 7.5)=%.1f\n", kv.first.c_str(), kv.second(6, 7.5));

  using namespace std::placeholders;
  auto bound = std::bind(plain_function, _2, 7, _1);
  std::printf("bind=%d\n", bound(3, 9));
  Multiplier m{4};
  auto bm = std::bind(&Multiplier::scaled, &m, _1, 1);
  std::printf("bind member=%d\n", bm(2));

  std::vector<std::function<int(int)>> pipeline;
  for (int i = 1; i <= 4; i++) pipeline.push_back([i](int x) { return x * i + i; });
  int v = 1;
  for (auto &f : pipeline) v = f(v);
  std::printf("pipeline=%d\n", v);

  std::function<void()> empty;
  try {
    empty();
  } catch (const std::bad_function_call &) {
    std::printf("bad_function_call caught, empty=%d\n", !empty);
  }
  return 26;
}
