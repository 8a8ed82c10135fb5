// Structs passed and returned by value across the SysV ABI classes: INTEGER, SSE, mixed, MEMORY (sret), and in varargs.
#include <stdarg.h>
#include <stdio.h>

struct small { int a, b; };                      /* 8 bytes: one INTEGER register */
struct two_dbl { double x, y; };                 /* two SSE registers */
struct mixed { long id; double weight; };        /* INTEGER + SSE */
struct floats3 { float a, b, c; };               /* SSE + SSE */
struct big { long v[6]; char tag[8]; };          /* MEMORY: passed on stack, returned via sret */
struct chars { char c[3]; };                     /* odd-sized */

__attribute__((noinline)) static struct small small_swap(struct small s) { return (struct small){s.b, s.a}; }
__attribute__((noinline)) static struct two_dbl scale(struct two_dbl p, double k) {
  p.x *= k;
  p.y *= k;
  return p;
}
__attribute__((noinline)) static struct mixed heavier(struct mixed a, struct mixed b) {
  return a.weight >= b.weight ? a : b;
}
__attribute__((noinline)) static struct floats3 cross(struct floats3 u, struct floats3 v) {
  return (struct floats3){u.b * v.c - u.c * v.b, u.c * v.a - u.a * v.c, u.a * v.b - u.b * v.a};
}
__attribute__((noinline)) static struct big make_big(long seed) {
  struct big b;
  for (int i = 0; i < 6; i++) b.v[i] = seed * (i + 1);
  snprintf(b.tag, sizeof b.tag, "b%ld", seed);
  return b;
}
__attribute__((noinline)) static long sum_big(struct big b, struct big c) {
  long s = 0;
  for (int i = 0; i < 6; i++) s += b.v[i] - c.v[i];
  b.v[0] = -1;  /* modifies the callee's copy only */
  return s;
}
__attribute__((noinline)) static struct chars rot(struct chars c) {
  return (struct chars){{c.c[1], c.c[2], c.c[0]}};
}
/* many arguments: registers run out, the rest go on the stack */
__attribute__((noinline)) static double many(struct two_dbl a, struct two_dbl b, struct two_dbl c, struct two_dbl d,
                                             struct two_dbl e, struct mixed m, struct small s, int i, double f) {
  return a.x + b.y + c.x + d.y + e.x + e.y + (double)m.id + m.weight + s.a + s.b + i + f;
}
static double va_structs(int n, ...) {
  va_list ap;
  va_start(ap, n);
  double t = 0;
  for (int i = 0; i < n; i++) {
    struct mixed m = va_arg(ap, struct mixed);
    struct big b = va_arg(ap, struct big);
    t += (double)m.id * m.weight + (double)b.v[5];
  }
  va_end(ap);
  return t;
}

int main(void) {
  struct small s = small_swap((struct small){1, 2});
  printf("small: %d %d\n", s.a, s.b);
  struct two_dbl p = scale((struct two_dbl){1.5, -2.25}, 4.0);
  printf("two_dbl: %.3f %.3f\n", p.x, p.y);
  struct mixed h = heavier((struct mixed){1, 2.5}, (struct mixed){2, 7.75});
  printf("mixed: %ld %.2f\n", h.id, h.weight);
  struct floats3 c = cross((struct floats3){1, 0, 0}, (struct floats3){0, 1, 0});
  printf("floats3: %.1f %.1f %.1f\n", c.a, c.b, c.c);
  struct big b1 = make_big(3), b2 = make_big(1);
  printf("big: %s %ld %ld sum=%ld b1.v0 after=%ld\n", b1.tag, b1.v[0], b1.v[5], sum_big(b1, b2), b1.v[0]);
  struct chars r = rot((struct chars){{'x', 'y', 'z'}});
  printf("chars: %c%c%c\n", r.c[0], r.c[1], r.c[2]);
  struct two_dbl t = {1, 2};
  printf("many=%.2f\n", many(t, t, t, t, (struct two_dbl){0.5, 0.25}, (struct mixed){10, 0.125}, (struct small){3, 4},
                             5, 6.5));
  printf("va_structs=%.2f\n", va_structs(2, (struct mixed){2, 1.5}, make_big(2), (struct mixed){3, 0.5}, make_big(10)));
  struct big arr[3];
  for (int i = 0; i < 3; i++) arr[i] = make_big(i + 5);
  struct big copy = arr[1];
  arr[1].v[2] = 0;
  printf("copy independent: %ld vs %ld, %s\n", copy.v[2], arr[1].v[2], copy.tag);
  return 39;
}
