// Shared header for two_tu_templates: templates, inline functions and inline variables used from both TUs.
#pragma once
#include <string>
#include <vector>

inline int inline_counter = 0;              // C++17 inline variable: one definition across TUs
inline std::vector<std::string> inline_log; // inline variable with dynamic init and destructor

template <typename T>
T accumulate_squares(const std::vector<T> &v) {  // instantiated in both TUs -> COMDAT
  T total{};
  for (const T &x : v) total += x * x;
  ++inline_counter;
  return total;
}

template <typename T>
struct Registry {
  static int instances;                       // template static data member -> COMDAT
  T value;
  explicit Registry(T v) : value(v) { ++instances; }
  static int &calls() {
    static int n = 0;                         // function-local static in inline function
    return n;
  }
  T get() const { ++calls(); return value; }
};
template <typename T> int Registry<T>::instances = 0;

inline int &shared_local_static() {
  static int value = 1000;                    // must be one object for both TUs
  return value;
}

template <int N> struct Fact { static constexpr long value = N * Fact<N - 1>::value; };
template <> struct Fact<0> { static constexpr long value = 1; };

// Implemented in b.cpp
int b_work();
const void *b_addr_counter();
const void *b_addr_shared_static();
const void *b_addr_instances_int();
using SquaresFn = int (*)(const std::vector<int> &);
SquaresFn b_squares_ptr();
