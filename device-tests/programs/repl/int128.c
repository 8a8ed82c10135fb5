// __int128 arithmetic: multiplication, division/modulo (libgcc/compiler-rt helpers), shifts, printing in decimal/hex.
#include <stdio.h>

typedef unsigned __int128 u128;
typedef __int128 i128;

static void u128_to_str(u128 v, char *out) {
  char tmp[64];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + (int)(v % 10));
    v /= 10;
  } while (v);
  for (int i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  out[n] = '\0';
}

static void i128_print(const char *label, i128 v) {
  char buf[64];
  if (v < 0) {
    buf[0] = '-';
    u128_to_str((u128)0 - (u128)v, buf + 1);
  } else {
    u128_to_str((u128)v, buf);
  }
  printf("%s=%s\n", label, buf);
}

static void u128_print_hex(const char *label, u128 v) {
  printf("%s=0x%016llx%016llx\n", label, (unsigned long long)(v >> 64), (unsigned long long)v);
}

__attribute__((noinline)) static u128 factorial(unsigned n) {
  u128 r = 1;
  for (unsigned i = 2; i <= n; i++) r *= i;
  return r;
}

__attribute__((noinline)) static u128 isqrt(u128 x) {
  u128 lo = 0, hi = (u128)1 << 64;
  while (lo < hi) {
    u128 mid = lo + (hi - lo + 1) / 2;
    if (mid <= x / mid) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

int main(void) {
  volatile unsigned n = 34;
  u128 f = factorial(n);
  char buf[64];
  u128_to_str(f, buf);
  printf("34! = %s\n", buf);
  u128_print_hex("34! hex", f);
  u128 max = ~(u128)0;
  u128_to_str(max, buf);
  printf("u128 max = %s\n", buf);
  volatile i128 a = -((i128)1 << 100) + 12345;
  volatile i128 b = 987654321987LL;
  i128_print("a", a);
  i128_print("a / b", a / b);
  i128_print("a % b", a % b);
  i128_print("a * -3", a * -3);
  i128_print("a >> 70", a >> 70);
  u128 big = f / factorial(20);
  u128_to_str(big, buf);
  printf("34!/20! = %s\n", buf);
  u128_to_str(f % 1000000007u, buf);
  printf("34! mod 1e9+7 = %s\n", buf);
  u128_to_str(isqrt(f), buf);
  printf("isqrt(34!) = %s\n", buf);
  u128 m = (u128)0xFFFFFFFFFFFFFFFFull * 0xFFFFFFFFFFFFFFFFull;
  u128_print_hex("(2^64-1)^2", m);
  printf("compare: %d %d %d\n", a < b, (u128)a > (u128)b, max == (u128)-1);
  printf("clz-ish: high word bits=%d\n", __builtin_clzll((unsigned long long)(f >> 64)));
  return 34;
}
