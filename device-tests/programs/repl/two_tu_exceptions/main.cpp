// Exceptions crossing TUs: thrown in thrower.cpp, caught in main.cpp, and back; typeinfo matched across objects.
#include <cstdio>
#include "errors.h"

std::string unwind_log;
Trace::~Trace() { unwind_log += where; unwind_log += ';'; }

void main_callback(int v) {
  Trace t{"main_callback"};
  if (v > 2) throw ParseError("from main_callback", v);
}

int main() {
  const char *inputs[] = {"123", "12a4", "", "98x"};
  for (const char *in : inputs) {
    try {
      std::printf("parse(\"%s\") = %d\n", in, parse_digits(in));
    } catch (const ParseError &e) {
      std::printf("parse(\"%s\") ParseError at %d: %s\n", in, e.position, e.what());
    } catch (const std::invalid_argument &e) {
      std::printf("parse(\"%s\") invalid_argument: %s\n", in, e.what());
    }
  }
  for (int which = 0; which < 4; which++) {
    try {
      throw_coded(which);
      std::printf("coded %d: nothing thrown\n", which);
    } catch (CodedError<404>) {
      std::printf("coded %d: caught CodedError<404>\n", which);
    } catch (const CodedError<500> &e) {
      std::printf("coded %d: caught CodedError<500> code=%d\n", which, e.code);
    } catch (...) {
      std::printf("coded %d: caught unknown\n", which);
    }
  }
  int caught = 0;
  for (int v = 1; v <= 4; v++) {
    try {
      call_back(main_callback, v);   // main.cpp -> thrower.cpp -> main.cpp, throw unwinds through both
    } catch (const std::runtime_error &e) {
      caught += v;
      std::printf("callback v=%d: %s\n", v, e.what());
    }
  }
  std::printf("caught sum=%d\nunwind log: %s\n", caught, unwind_log.c_str());
  return 48;
}
