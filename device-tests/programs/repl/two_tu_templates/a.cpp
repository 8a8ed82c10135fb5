// Templates instantiated in two TUs (COMDAT folding), inline variables, shared local statics of inline functions.
#include <cstdio>
#include "common.h"

int main() {
  std::vector<int> iv{1, 2, 3, 4};
  std::vector<double> dv{0.5, 1.5};
  std::printf("a: squares int=%d double=%.2f\n", accumulate_squares(iv), accumulate_squares(dv));
  Registry<int> r1(7), r2(8);
  Registry<std::string> rs("text");
  std::printf("a: registry values %d %d %s\n", r1.get(), r2.get(), rs.get().c_str());
  shared_local_static() += 1;
  inline_log.push_back("from a");
  int b = b_work();
  std::printf("a: b_work=%d\n", b);
  std::printf("inline_counter=%d\n", inline_counter);
  std::printf("Registry<int>::instances=%d calls=%d\n", Registry<int>::instances, Registry<int>::calls());
  std::printf("Registry<std::string>::instances=%d\n", Registry<std::string>::instances);
  std::printf("shared_local_static=%d\n", shared_local_static());
  std::printf("same inline_counter object: %d\n", b_addr_counter() == (const void *)&inline_counter);
  std::printf("same local static object: %d\n", b_addr_shared_static() == (const void *)&shared_local_static());
  std::printf("same template static member: %d\n", b_addr_instances_int() == (const void *)&Registry<int>::instances);
  SquaresFn here = &accumulate_squares<int>;
  std::printf("same template function address: %d\n", here == b_squares_ptr());
  std::printf("Fact<10>=%ld\n", Fact<10>::value);
  std::printf("log:");
  for (const auto &s : inline_log) std::printf(" [%s]", s.c_str());
  std::printf("\n");
  return 24;
}
