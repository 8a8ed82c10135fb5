// Second TU of two_tu_exceptions: throws types defined in errors.h and calls back into main.cpp.
#include "errors.h"

int parse_digits(const std::string &s) {
  Trace t{"parse_digits"};
  if (s.empty()) throw std::invalid_argument("empty input");
  int v = 0;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] < '0' || s[i] > '9') throw ParseError("unexpected '" + std::string(1, s[i]) + "'", (int)i);
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

void throw_coded(int which) {
  switch (which) {
  case 0: throw CodedError<404>();
  case 1: throw CodedError<500>();
  case 2: throw 3.5;
  default: return;
  }
}

void call_back(void (*fn)(int), int v) {
  Trace t{"call_back"};
  try {
    fn(v);
  } catch (const ParseError &e) {
    if (e.position == 4) throw std::runtime_error("rewrapped: " + std::string(e.what()));
    throw;
  }
}
