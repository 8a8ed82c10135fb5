#include "out.h"
static long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
static int ack(int m, int n) { return m == 0 ? n + 1 : n == 0 ? ack(m - 1, 1) : ack(m - 1, ack(m, n - 1)); }
static int is_odd(int n);
static int is_even(int n) { return n == 0 ? 1 : is_odd(n - 1); }
static int is_odd(int n) { return n == 0 ? 0 : is_even(n - 1); }
static long deep(int n) { volatile char pad[64]; pad[0] = (char)n; return n == 0 ? 0 : 1 + deep(n - 1) + pad[0] * 0; }
int main(void) {
  out_kv("fib(25)", fib(25));
  out_kv("ack(2,3)", ack(2, 3));
  out_kv("even(1001)", is_even(1001));
  out_kv("deep(20000)", deep(20000));
  return 0;
}
