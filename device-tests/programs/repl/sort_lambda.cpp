// std::sort / stable_sort / partial_sort / nth_element with lambdas and total orders, plus binary search helpers.
#include <algorithm>
#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

struct Employee {
  std::string name;
  std::string dept;
  int salary;
  int id;
};

int main() {
  std::vector<int> v;
  unsigned s = 2024;
  for (int i = 0; i < 5000; i++) {
    s = s * 1103515245u + 12345u;
    v.push_back((int)((s >> 4) % 100000) - 50000);
  }
  std::vector<int> byabs = v;
  std::sort(byabs.begin(), byabs.end(), [](int a, int b) {
    int aa = a < 0 ? -a : a, bb = b < 0 ? -b : b;
    return aa != bb ? aa < bb : a < b;  // total order
  });
  std::printf("by |x|: first=%d %d %d last=%d\n", byabs[0], byabs[1], byabs[2], byabs.back());
  int comparisons = 0;
  std::sort(v.begin(), v.end(), [&comparisons](int a, int b) {
    ++comparisons;
    return a > b;
  });
  std::printf("desc sorted=%d first=%d last=%d comparisons>0=%d\n",
              std::is_sorted(v.begin(), v.end(), std::greater<int>()), v.front(), v.back(), comparisons > 0);
  std::sort(v.begin(), v.end());
  auto range = std::equal_range(v.begin(), v.end(), v[2500]);
  std::printf("median=%d dup_count=%ld lower_bound(0) index=%ld\n", v[2500], (long)(range.second - range.first),
              (long)(std::lower_bound(v.begin(), v.end(), 0) - v.begin()));

  std::vector<Employee> staff{{"Ann", "eng", 120, 1},  {"Bob", "ops", 90, 2},   {"Cid", "eng", 120, 3},
                              {"Dee", "ops", 95, 4},   {"Eve", "eng", 150, 5},  {"Fay", "hr", 70, 6},
                              {"Gus", "hr", 70, 7},    {"Hal", "eng", 110, 8}};
  std::sort(staff.begin(), staff.end(), [](const Employee &a, const Employee &b) {
    return std::tie(a.dept, b.salary, a.name) < std::tie(b.dept, a.salary, b.name);  // dept asc, salary desc, name
  });
  for (const auto &e : staff) std::printf("%s/%s/%d ", e.dept.c_str(), e.name.c_str(), e.salary);
  std::printf("\n");
  std::stable_sort(staff.begin(), staff.end(), [](const Employee &a, const Employee &b) { return a.salary < b.salary; });
  for (const auto &e : staff) std::printf("%s ", e.name.c_str());
  std::printf("\n");

  std::vector<std::string> words{"kiwi", "fig", "banana", "apple", "cherry", "date", "elderberry", "grape"};
  std::sort(words.begin(), words.end(), [](const std::string &a, const std::string &b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  for (const auto &w : words) std::printf("%s ", w.c_str());
  std::printf("\n");

  std::vector<int> p(v.begin(), v.begin() + 200);
  std::reverse(p.begin(), p.end());
  std::partial_sort(p.begin(), p.begin() + 5, p.end(), [](int a, int b) { return a < b; });
  std::printf("partial_sort top5: %d %d %d %d %d\n", p[0], p[1], p[2], p[3], p[4]);
  std::vector<int> q(v.rbegin(), v.rbegin() + 301);
  std::nth_element(q.begin(), q.begin() + 150, q.end());
  std::printf("nth_element(150)=%d\n", q[150]);
  return 28;
}
