#include "out.h"
__attribute__((weak)) int tunable = 17;
__attribute__((weak)) int hook(int v) { return v + 1; }
extern int missing(void) __attribute__((weak));
int main(void) {
  out_kv("tunable", tunable);
  out_kv("hook", hook(41));
  out_kv("missing is null", missing == 0);
  return 0;
}
