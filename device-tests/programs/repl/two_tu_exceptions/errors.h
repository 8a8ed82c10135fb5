// Shared header for two_tu_exceptions: exception types whose typeinfo/vtables are emitted in both TUs.
#pragma once
#include <stdexcept>
#include <string>

struct ParseError : std::runtime_error {   // all members inline: vtable/typeinfo are COMDAT in both TUs
  int position;
  ParseError(const std::string &m, int pos) : std::runtime_error(m), position(pos) {}
};
template <int Code>
struct CodedError {                        // class template: typeinfo for each instantiation is COMDAT
  static constexpr int code = Code;
};
struct Trace {                             // destructor records unwinding across TUs
  const char *where;
  ~Trace();
};

// Defined in thrower.cpp
int parse_digits(const std::string &s);
void throw_coded(int which);
void call_back(void (*fn)(int), int v);
// Defined in main.cpp
void main_callback(int v);
extern std::string unwind_log;
