#include <stdlib.h>
#include "out.h"
struct small { int a, b; };
struct mixed { double d; int i; };
struct big { long v[6]; };
static struct small swap(struct small s) { return (struct small){s.b, s.a}; }
static struct mixed scale(struct mixed m, double f) { m.d *= f; m.i *= 2; return m; }
static struct big fill(long base) { struct big b; for (int i = 0; i < 6; i++) b.v[i] = base + i; return b; }
static long total(struct big b) { long s = 0; for (int i = 0; i < 6; i++) s += b.v[i]; return s; }
int main(void) {
  struct small s = swap((struct small){3, 4});
  out_kv("swap", s.a * 10 + s.b);
  struct mixed m = scale((struct mixed){1.5, 7}, 4.0);
  out_kv("mixed", (long long)(m.d * 100) + m.i);
  out_kv("big", total(fill(100)));
  ldiv_t q = ldiv(1000003, 97);
  out_kv("ldiv", q.quot * 1000 + q.rem);
  return 0;
}
