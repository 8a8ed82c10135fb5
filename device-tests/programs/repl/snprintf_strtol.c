// snprintf formatting (widths, precision, flags, truncation) and strtol/strtoul/strtoll/strtod/atoi parsing incl. errors.
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

static void parse(const char *s, int base) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, base);
  printf("strtol(\"%s\", %d) = %ld, consumed %d, rest \"%s\", erange=%d\n", s, base, v, (int)(end - s), end,
         errno == ERANGE);
}

int main(void) {
  char buf[128];
  int n = snprintf(buf, sizeof buf, "[%5d|%-5d|%05d|%+d|% d]", 42, 42, 42, 42, 42);
  printf("%s n=%d\n", buf, n);
  snprintf(buf, sizeof buf, "[%x|%X|%#o|%#x|%lu|%lld]", 48879u, 48879u, 8u, 255u, 4000000000UL, -9000000000LL);
  printf("%s\n", buf);
  snprintf(buf, sizeof buf, "[%.3f|%10.4f|%-10.2f|%e|%g|%g]", 3.14159265, -2.5, 1.005, 123456.789, 0.0001, 1e10);
  printf("%s\n", buf);
  snprintf(buf, sizeof buf, "[%s|%.3s|%8s|%-8s|%c|%%]", "string", "truncate", "right", "left", 'Z');
  printf("%s\n", buf);
  snprintf(buf, sizeof buf, "[%*d|%-*d|%.*f]", 6, 7, 4, 8, 2, 9.876);
  printf("%s\n", buf);
  snprintf(buf, sizeof buf, "[%" PRId64 "|%" PRIu32 "|%" PRIx64 "|%zu|%td]", INT64_MIN, UINT32_MAX,
           (uint64_t)0xdeadbeefcafeULL, sizeof(long), (ptrdiff_t)-3);
  printf("%s\n", buf);
  char tiny[6];
  n = snprintf(tiny, sizeof tiny, "%d", 1234567890);
  printf("truncated=\"%s\" would_be=%d\n", tiny, n);
  printf("null-size count=%d\n", snprintf(NULL, 0, "%s-%d", "abc", 12345));

  parse("12345", 10);
  parse("   -42xyz", 10);
  parse("0x1F", 16);
  parse("0x1F", 0);
  parse("0755", 0);
  parse("z", 36);
  parse("101101", 2);
  parse("99999999999999999999999", 10);
  parse("-99999999999999999999999", 10);
  parse("hello", 10);
  char *end;
  errno = 0;
  unsigned long ul = strtoul("18446744073709551615", &end, 10);
  printf("strtoul max=%lu erange=%d\n", ul, errno == ERANGE);
  long long ll = strtoll("-9223372036854775808", &end, 10);
  printf("strtoll min=%lld is_min=%d\n", ll, ll == LLONG_MIN);
  double d = strtod("  6.02214076e23 mol", &end);
  printf("strtod=%.6e rest=\"%s\"\n", d, end);
  d = strtod("0x1.8p3", &end);
  printf("strtod hex=%.3f\n", d);
  printf("atoi=%d atol=%ld atof=%.2f\n", atoi("  314abc"), atol("-271828"), atof("1.5e2"));
  int a, b;
  char word[16];
  int got = sscanf("17 0x2a token", "%d %i %15s", &a, &b, word);
  printf("sscanf got=%d a=%d b=%d word=%s\n", got, a, b, word);
  return 38;
}
