// Mutual calls between two TUs: recursion bouncing between a.c and b.c, shared globals and callbacks across files.
#include <stdio.h>

int ping(int n);                 /* defined in b.c */
extern int b_calls;              /* defined in b.c */
extern const char *b_label;      /* defined in b.c */
int register_callback(int (*cb)(int));
int a_calls;
int a_scale = 3;

int pong(int n) {                /* called from b.c */
  a_calls++;
  return n <= 0 ? 0 : a_scale + ping(n - 1);
}

static int a_square(int x) { return x * x; }   /* handed to b.c as a callback */

int main(void) {
  int r = ping(10);
  printf("ping(10)=%d a_calls=%d b_calls=%d\n", r, a_calls, b_calls);
  a_scale = 5;
  r = pong(2001);                /* 2000 levels of cross-TU recursion */
  printf("pong(2001)=%d a_calls=%d b_calls=%d\n", r, a_calls, b_calls);
  printf("callback result=%d label=%s\n", register_callback(a_square), b_label);
  return 49;
}
