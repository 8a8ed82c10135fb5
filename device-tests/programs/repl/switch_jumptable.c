// Dense switch statements that become jump tables / lookup tables at -O2 (in .rodata, PC-relative with -fPIC).
#include <stdio.h>

static int acc;

__attribute__((noinline)) static int dispatch(int op, int x) {
  switch (op) {            /* dense cases with different code -> jump table */
  case 0: return x + 1;
  case 1: return x - 3;
  case 2: return x * 7;
  case 3: return x / 2;
  case 4: return x ^ 0x55;
  case 5: return x << 3;
  case 6: return x % 11;
  case 7: acc += x; return acc;
  case 8: return -x;
  case 9: return x * x;
  case 10: return x | 0x100;
  case 11: return x & 0xf0;
  case 12: return x + op * 1000;
  case 13: return (x >> 1) + 9;
  case 14: return x - 100;
  case 15: return ~x;
  default: return 424242;
  }
}

__attribute__((noinline)) static const char *day_name(unsigned d) {
  switch (d) {             /* switch producing a table of string pointers */
  case 0: return "Mon";
  case 1: return "Tue";
  case 2: return "Wed";
  case 3: return "Thu";
  case 4: return "Fri";
  case 5: return "Sat";
  case 6: return "Sun";
  }
  return "???";
}

__attribute__((noinline)) static int fallthrough(int n) {
  int r = 0;
  switch (n) {             /* Duff-style fallthrough */
  case 5: r += 5; /* fall through */
  case 4: r += 4; /* fall through */
  case 3: r += 3; /* fall through */
  case 2: r += 2; /* fall through */
  case 1: r += 1; break;
  case 100: r = -100; break;
  default: r = -1;
  }
  return r;
}

__attribute__((noinline)) static int sparse(long k) {
  switch (k) {             /* sparse values -> compare tree */
  case -1000000: return 1;
  case -5: return 2;
  case 17: return 3;
  case 4096: return 4;
  case 99999: return 5;
  case 1L << 40: return 6;
  }
  return 0;
}

__attribute__((noinline)) static char classify(char c) {
  switch (c) {
  case 'a': case 'e': case 'i': case 'o': case 'u': return 'V';
  case '0': case '1': case '2': case '3': case '4':
  case '5': case '6': case '7': case '8': case '9': return 'D';
  case ' ': return '_';
  default: return (c >= 'a' && c <= 'z') ? 'C' : '?';
  }
}

int main(void) {
  unsigned long checksum = 0;
  for (int op = -2; op < 18; op++) {
    int r = dispatch(op, 37);
    checksum = checksum * 31 + (unsigned)r;
    printf("op %2d -> %d\n", op, r);
  }
  printf("checksum=%lu\n", checksum);
  for (unsigned d = 0; d < 9; d++) printf("%s%s", day_name(d), d < 8 ? " " : "\n");
  for (int n = 0; n <= 6; n++) printf("fallthrough(%d)=%d\n", n, fallthrough(n));
  printf("fallthrough(100)=%d\n", fallthrough(100));
  long keys[] = {-1000000, -5, 17, 4096, 99999, 1L << 40, 3, -6};
  for (int i = 0; i < 8; i++) printf("%d", sparse(keys[i]));
  printf("\n");
  const char *text = "hello world 2024 jit";
  for (const char *p = text; *p; p++) putchar(classify(*p));
  putchar('\n');
  return 31;
}
