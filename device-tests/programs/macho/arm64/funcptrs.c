#include <stdlib.h>
#include "out.h"
static int add(int a, int b) { return a + b; }
static int sub(int a, int b) { return a - b; }
static int mul(int a, int b) { return a * b; }
static int (*const ops[])(int, int) = {add, sub, mul};
struct op { const char *name; int (*fn)(int, int); };
static struct op named[] = {{"add", add}, {"mul", mul}};
static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
int main(void) {
  int v[] = {42, 7, 19, 3, 88, 21, 5};
  int n = sizeof v / sizeof v[0];
  qsort(v, n, sizeof v[0], cmp);
  for (int i = 0; i < n; i++) out_kv("sorted", v[i]);
  int key = 21;
  int *hit = bsearch(&key, v, n, sizeof v[0], cmp);
  out_kv("found at", hit ? hit - v : -1);
  for (int i = 0; i < 3; i++) out_kv("op", ops[i](6, 3));
  out_str(named[1].name);
  out_kv(" 4*5", named[1].fn(4, 5));
  return 0;
}
