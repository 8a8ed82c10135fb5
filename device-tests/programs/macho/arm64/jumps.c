#include <setjmp.h>
#include "out.h"
static jmp_buf outer, inner;
static int depth;
static void dive(int n) {
  depth = n;
  if (n == 5) longjmp(inner, n);
  if (n == 9) longjmp(outer, n * 2);
  dive(n + 1);
}
int main(void) {
  int r = setjmp(outer);
  if (r) {
    out_kv("outer", r);
    return 0;
  }
  int s = setjmp(inner);
  if (s) {
    out_kv("inner", s);
    dive(s + 1);
  }
  dive(0);
  return 1;
}
