// Globals, statics, function pointers, qsort calling back into JIT'd code, libm, strings,
// heap memory and a non-zero exit status.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int counter;
int table[8] = {42, 7, 19, 3, 88, 1, 56, 23};
const char *names[] = {"alpha", "beta", "gamma"};
double (*unary[])(double) = {sqrt, cos, fabs};

static int compare_ints(const void *a, const void *b) {
  counter++;
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

static int next_id(void) {
  static int id = 100;
  return id++;
}

int main(void) {
  qsort(table, 8, sizeof table[0], compare_ints);
  for (int i = 0; i < 8; i++) printf("%d ", table[i]);
  printf("\ncomparisons > 0: %d\n", counter > 0);
  for (int i = 0; i < 3; i++) printf("%s(2.0) = %.6f\n", i == 0 ? "sqrt" : i == 1 ? "cos" : "fabs", unary[i](2.0));
  printf("pow(2, 10) = %.1f\n", pow(2.0, 10.0));
  char *buf = malloc(64);
  strcpy(buf, names[1]);
  strcat(buf, "-");
  strcat(buf, names[2]);
  printf("%s (%zu)\n", buf, strlen(buf));
  free(buf);
  printf("ids %d %d %d\n", next_id(), next_id(), next_id());
  return 3;
}
