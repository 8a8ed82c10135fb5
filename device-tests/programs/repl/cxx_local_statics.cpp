// C++ function-local statics with guard variables: lazy construction, templates, recursion-free re-entry, destruction order.
#include <cstdio>
#include <string>
#include <vector>

static int construct_count = 0;

struct Lazy {
  std::string name;
  int order;
  explicit Lazy(const char *n) : name(n), order(++construct_count) { std::printf("  construct %s #%d\n", n, order); }
  ~Lazy() { std::printf("destroy %s #%d\n", name.c_str(), order); }
};

static Lazy &first_use(bool touch) {
  if (!touch) {
    static Lazy never("never-constructed-if-unused");
    (void)never;
  }
  static Lazy a("a");
  return a;
}

static Lazy &second() {
  static Lazy b("b");
  return b;
}

template <typename T>
static int &per_type_counter() {
  static int n = 0;  // one per instantiation
  ++n;
  return n;
}

template <typename T>
struct Holder {
  static Lazy &instance() {
    static Lazy inst(sizeof(T) == 1 ? "holder<char>" : "holder<other>");
    return inst;
  }
};

static std::vector<int> &table() {
  static std::vector<int> t = [] {    // dynamic initializer via lambda, runs once
    std::printf("  building table\n");
    std::vector<int> v;
    for (int i = 0; i < 10; i++) v.push_back(i * i);
    return v;
  }();
  return t;
}

static int guarded_depends() {
  static int value = table()[3] + second().order * 100;  // static init that triggers other statics
  return value;
}

int main() {
  std::printf("main start, constructed=%d\n", construct_count);
  second();
  first_use(true);
  first_use(true);
  std::printf("after first/second: constructed=%d\n", construct_count);
  std::printf("guarded_depends=%d\n", guarded_depends());
  std::printf("guarded_depends again=%d\n", guarded_depends());
  table().push_back(1000);
  std::printf("table size=%zu last=%d\n", table().size(), table().back());
  per_type_counter<int>();
  per_type_counter<int>();
  per_type_counter<double>();
  std::printf("counters int=%d double=%d char=%d\n", per_type_counter<int>(), per_type_counter<double>(),
              per_type_counter<char>());
  Holder<char>::instance();
  Holder<long>::instance();
  Holder<char>::instance();
  std::printf("constructed=%d; main returns\n", construct_count);
  return 47;
}
