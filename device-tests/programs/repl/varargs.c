// Variadic functions: own va_list handling (ints, doubles, strings, va_copy) and vsnprintf wrappers.
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int sum_ints(int count, ...) {
  va_list ap;
  va_start(ap, count);
  int total = 0;
  for (int i = 0; i < count; i++) total += va_arg(ap, int);
  va_end(ap);
  return total;
}

static double mean(int count, ...) {
  va_list ap;
  va_start(ap, count);
  double total = 0;
  for (int i = 0; i < count; i++) total += va_arg(ap, double);
  va_end(ap);
  return count ? total / count : 0.0;
}

/* Mixed types described by a tiny format: i=int, d=double, s=string, l=long long. */
static void describe(const char *fmt, ...) {
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = 0;
  for (const char *p = fmt; *p; p++) {
    switch (*p) {
    case 'i': printf("int:%d ", va_arg(ap, int)); break;
    case 'd': printf("double:%.3f ", va_arg(ap, double)); break;
    case 's': printf("str:%s ", va_arg(ap, const char *)); break;
    case 'l': printf("ll:%lld ", va_arg(ap, long long)); break;
    }
    n++;
  }
  printf("(%d args)\n", n);
  /* second pass over the copy: only count the strings' lengths */
  size_t len = 0;
  for (const char *p = fmt; *p; p++) {
    if (*p == 's') len += strlen(va_arg(ap2, const char *));
    else if (*p == 'd') (void)va_arg(ap2, double);
    else if (*p == 'l') (void)va_arg(ap2, long long);
    else (void)va_arg(ap2, int);
  }
  printf("total string length via va_copy: %zu\n", len);
  va_end(ap2);
  va_end(ap);
}

static char logbuf[256];
static size_t logpos;

static int logf_append(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(logbuf + logpos, sizeof logbuf - logpos, fmt, ap);
  va_end(ap);
  if (n > 0) logpos += (size_t)n < sizeof logbuf - logpos ? (size_t)n : sizeof logbuf - logpos - 1;
  return n;
}

static int vformat_len(const char *fmt, va_list ap) { return vsnprintf(NULL, 0, fmt, ap); }

static int format_len(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vformat_len(fmt, ap);
  va_end(ap);
  return n;
}

int main(void) {
  printf("sum_ints(0)=%d\n", sum_ints(0));
  printf("sum_ints(5)=%d\n", sum_ints(5, 1, 2, 3, 4, 5));
  printf("sum_ints(12)=%d\n", sum_ints(12, 1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, 100));
  printf("mean=%.4f\n", mean(4, 1.5, 2.5, 3.25, 10.0));
  printf("mean(10)=%.4f\n", mean(10, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.5));
  describe("isdlsi", 42, "forty-two", 3.14159, 1234567890123LL, "x", -1);
  describe("ddddddddds", 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, "after nine doubles");
  logf_append("[%s:%d]", "main", 7);
  logf_append(" value=%08.3f", 2.5);
  logf_append(" hex=%#x oct=%o", 255u, 8u);
  logf_append(" %-6s|%6s|", "ab", "cd");
  printf("log=\"%s\" (%zu chars)\n", logbuf, logpos);
  printf("format_len=%d\n", format_len("%d-%s-%5.2f", 12345, "abc", 1.0));
  char small[8];
  int want = snprintf(small, sizeof small, "%s", "truncated string");
  printf("snprintf truncation: want=%d got=\"%s\"\n", want, small);
  return 15;
}
