/* Output without variadic calls: Darwin arm64 passes variadic arguments on the stack, Linux
 * AAPCS64 in registers, so Darwin-built code cannot call glibc's printf. Everything here goes
 * through fputs. */
#include <stdio.h>

static void out_str(const char *s) { fputs(s, stdout); }

static void out_int(long long v) {
  char buf[32];
  int i = 31;
  unsigned long long u = v < 0 ? -(unsigned long long)v : (unsigned long long)v;
  buf[i] = 0;
  do {
    buf[--i] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) buf[--i] = '-';
  fputs(buf + i, stdout);
}

static void out_kv(const char *key, long long v) {
  out_str(key);
  out_str("=");
  out_int(v);
  out_str("\n");
}
