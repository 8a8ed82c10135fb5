// unique_ptr and shared_ptr: ownership transfer, custom deleters, weak_ptr, enable_shared_from_this, aliasing, arrays.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

static int alive = 0;

struct Res {
  std::string name;
  explicit Res(std::string n) : name(std::move(n)) {
    ++alive;
    std::printf("  + %s\n", name.c_str());
  }
  ~Res() {
    --alive;
    std::printf("  - %s\n", name.c_str());
  }
};

struct Node : std::enable_shared_from_this<Node> {
  int value;
  std::shared_ptr<Node> next;
  std::weak_ptr<Node> prev;  // weak back-pointer: no cycle
  explicit Node(int v) : value(v) {}
  ~Node() { std::printf("  node %d freed\n", value); }
  std::shared_ptr<Node> self() { return shared_from_this(); }
};

static std::unique_ptr<Res> make(const char *n) { return std::make_unique<Res>(n); }
static void consume(std::unique_ptr<Res> r) { std::printf("  consuming %s\n", r->name.c_str()); }

struct CountingDeleter {
  int *count;
  void operator()(Res *r) const {
    ++*count;
    delete r;
  }
};

int main() {
  std::printf("unique_ptr\n");
  {
    auto a = make("a");
    auto b = std::move(a);
    std::printf("  a null=%d b=%s\n", a == nullptr, b->name.c_str());
    consume(std::move(b));
    std::printf("  after consume alive=%d\n", alive);
    auto c = make("c");
    c.reset(new Res("c2"));
    Res *raw = c.release();
    std::printf("  released %s\n", raw->name.c_str());
    delete raw;
  }
  int deleted = 0;
  {
    std::unique_ptr<Res, CountingDeleter> d(new Res("custom"), CountingDeleter{&deleted});
  }
  std::printf("custom deleter ran %d time(s)\n", deleted);
  {
    std::unique_ptr<int[]> arr(new int[10]());
    for (int i = 0; i < 10; i++) arr[i] = i * i;
    std::printf("array[9]=%d\n", arr[9]);
  }

  std::printf("shared_ptr\n");
  std::weak_ptr<Res> watcher;
  {
    auto s1 = std::make_shared<Res>("shared");
    watcher = s1;
    std::printf("  use_count=%ld\n", s1.use_count());
    {
      auto s2 = s1;
      std::vector<std::shared_ptr<Res>> many(3, s1);
      std::printf("  use_count=%ld\n", s1.use_count());
    }
    std::printf("  use_count=%ld expired=%d\n", s1.use_count(), watcher.expired());
    if (auto locked = watcher.lock()) std::printf("  locked %s\n", locked->name.c_str());
    std::shared_ptr<std::string> alias(s1, &s1->name);  // aliasing constructor
    std::printf("  alias=%s use_count=%ld\n", alias->c_str(), s1.use_count());
  }
  std::printf("expired=%d alive=%d\n", watcher.expired(), alive);

  std::printf("list\n");
  {
    auto head = std::make_shared<Node>(1);
    auto cur = head;
    for (int i = 2; i <= 4; i++) {
      cur->next = std::make_shared<Node>(i);
      cur->next->prev = cur;
      cur = cur->next;
    }
    auto again = cur->self();
    std::printf("  tail=%d prev=%d self use_count=%ld\n", again->value, again->prev.lock()->value, again.use_count());
  }
  std::shared_ptr<Res> custom(new Res("lambda-deleted"), [](Res *r) {
    std::printf("  lambda deleter for %s\n", r->name.c_str());
    delete r;
  });
  custom.reset();
  std::printf("final alive=%d\n", alive);
  return 27;
}
