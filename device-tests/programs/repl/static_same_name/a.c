// Two TUs each defining static functions and static variables with the same names; they must stay distinct.
#include <stdio.h>

static int counter = 100;                       /* same name as in b.c */
static int helper(int x) { return x + counter++; }   /* same name as in b.c */
static const char *whoami(void) { return "a.c"; }

int b_entry(int x);
const char *b_whoami(void);
int (*b_helper_ptr(void))(int);

int main(void) {
  int a1 = helper(1);
  int a2 = helper(1);
  printf("a helper: %d %d\n", a1, a2);
  int b1 = b_entry(1);
  int b2 = b_entry(1);
  printf("b entry: %d %d\n", b1, b2);
  printf("whoami: %s %s\n", whoami(), b_whoami());
  printf("counters independent: a=%d\n", counter);
  int (*bh)(int) = b_helper_ptr();
  printf("helper pointers differ: %d, b helper via pointer=%d\n", bh != helper, bh(0));
  return 45;
}
