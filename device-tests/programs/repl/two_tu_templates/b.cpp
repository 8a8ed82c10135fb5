// Second TU of two_tu_templates: instantiates the same templates and inline entities as a.cpp.
#include "common.h"

int b_work() {
  std::vector<int> iv{10, 20};
  Registry<int> r(3);
  Registry<std::string> rs("b");
  shared_local_static() += 10;
  inline_log.push_back("from b");
  return accumulate_squares(iv) + r.get() + (int)rs.get().size() + (int)Fact<5>::value;
}
const void *b_addr_counter() { return &inline_counter; }
const void *b_addr_shared_static() { return &shared_local_static(); }
const void *b_addr_instances_int() { return &Registry<int>::instances; }
SquaresFn b_squares_ptr() { return &accumulate_squares<int>; }
