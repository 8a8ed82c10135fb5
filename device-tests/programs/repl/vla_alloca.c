// Variable-length arrays (incl. 2-D VLA parameters) and alloca, with sizes only known at run time.
#include <alloca.h>
#include <stdio.h>
#include <string.h>

static long vla_sum(int n) {
  int a[n];                       /* VLA sized by a parameter */
  for (int i = 0; i < n; i++) a[i] = i * 3 - n;
  long s = 0;
  for (int i = 0; i < n; i++) s += a[i];
  return s + (long)sizeof a;      /* sizeof on a VLA is evaluated at run time */
}

static void matmul(int n, int m, int p, const int a[n][m], const int b[m][p], int c[n][p]) {
  for (int i = 0; i < n; i++)
    for (int j = 0; j < p; j++) {
      c[i][j] = 0;
      for (int k = 0; k < m; k++) c[i][j] += a[i][k] * b[k][j];
    }
}

static int alloca_concat(const char *x, const char *y, char *out, size_t outsz) {
  size_t lx = strlen(x), ly = strlen(y);
  char *tmp = alloca(lx + ly + 2);   /* freed automatically on return */
  memcpy(tmp, x, lx);
  tmp[lx] = '+';
  memcpy(tmp + lx + 1, y, ly + 1);
  snprintf(out, outsz, "%s", tmp);
  return (int)(lx + ly + 1);
}

static int nested_vla(int depth, int width) {
  if (depth == 0) return 0;
  char buf[width];                 /* a new VLA in every frame */
  memset(buf, depth, (size_t)width);
  int s = 0;
  for (int i = 0; i < width; i++) s += buf[i];
  return s + nested_vla(depth - 1, width + 1);
}

int main(void) {
  volatile int sizes[] = {1, 7, 100, 4096};
  for (int i = 0; i < 4; i++) printf("vla_sum(%d)=%ld\n", sizes[i], vla_sum(sizes[i]));

  int n = sizes[1] - 4, m = sizes[1] - 3, p = 2;   /* 3x4 * 4x2 */
  int a[n][m], b[m][p], c[n][p];
  for (int i = 0; i < n; i++)
    for (int k = 0; k < m; k++) a[i][k] = i + k;
  for (int k = 0; k < m; k++)
    for (int j = 0; j < p; j++) b[k][j] = k * p + j + 1;
  matmul(n, m, p, (const int(*)[m])a, (const int(*)[p])b, c);
  for (int i = 0; i < n; i++) printf("row %d: %d %d\n", i, c[i][0], c[i][1]);
  printf("sizeof c = %zu\n", sizeof c);

  char out[64];
  int len = alloca_concat("left", "right", out, sizeof out);
  printf("alloca concat=%s len=%d\n", out, len);
  long total = 0;
  for (int i = 1; i <= 50; i++) {
    int *block = alloca((size_t)i * sizeof(int));  /* grows the frame each iteration */
    for (int j = 0; j < i; j++) block[j] = j;
    total += block[i - 1];
  }
  printf("alloca loop total=%ld\n", total);
  printf("nested_vla=%d\n", nested_vla(30, sizes[1]));
  return 33;
}
