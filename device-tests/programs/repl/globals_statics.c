// Globals and statics: .data/.bss/.rodata, pointer-initialized globals (relocations), function-local statics.
#include <stdio.h>
#include <string.h>

int g_init = 1234;                 /* .data */
int g_zero;                        /* .bss */
static int s_init = -77;           /* file-static .data */
static long s_zero_arr[100];       /* file-static .bss */
const int g_const[5] = {2, 3, 5, 7, 11};   /* .rodata */
int *g_ptr = &g_init;              /* data relocation to a global */
static int *s_ptr_arr[3] = {&g_zero, &s_init, &g_init};
const char *const g_words[] = {"zero", "one", "two", "three"};
static const char *s_msg = "static string";
struct point { int x, y; const char *tag; };
struct point g_points[3] = {{1, 2, "a"}, {3, 4, "b"}, {5, 6, "c"}};
struct point *g_point_ptr = &g_points[2];
char g_buf[32] = "hello";          /* partially initialized array */

static int counter(void) {
  static int calls;                /* function-local static in .bss */
  static int base = 500;           /* function-local static in .data */
  calls++;
  base += 10;
  return base + calls;
}

static const char *name_of(int i) {
  static const char *const table[] = {"red", "green", "blue"};
  return table[i % 3];
}

int accumulate(int v) {
  static long total = 0;
  total += v;
  return (int)total;
}

int main(void) {
  printf("g_init=%d g_zero=%d s_init=%d\n", g_init, g_zero, s_init);
  *g_ptr += 1;
  *s_ptr_arr[0] = 99;
  *s_ptr_arr[1] *= 2;
  printf("after writes: g_init=%d g_zero=%d s_init=%d\n", g_init, g_zero, s_init);
  long sum = 0;
  for (int i = 0; i < 100; i++) sum += s_zero_arr[i];
  printf("bss array sum=%ld\n", sum);
  for (int i = 0; i < 100; i++) s_zero_arr[i] = i * i;
  sum = 0;
  for (int i = 0; i < 100; i++) sum += s_zero_arr[i];
  printf("bss array sum after fill=%ld\n", sum);
  int prod = 1;
  for (int i = 0; i < 5; i++) prod *= g_const[i];
  printf("const product=%d\n", prod);
  for (int i = 0; i < 4; i++) printf("word[%d]=%s\n", i, g_words[i]);
  printf("msg=%s len=%zu\n", s_msg, strlen(s_msg));
  printf("point ptr -> %d,%d,%s\n", g_point_ptr->x, g_point_ptr->y, g_point_ptr->tag);
  printf("points same: %d\n", g_point_ptr == &g_points[2]);
  strcat(g_buf, ", world");
  printf("buf=%s tail zero=%d\n", g_buf, g_buf[31]);
  for (int i = 0; i < 4; i++) printf("counter=%d\n", counter());
  for (int i = 0; i < 5; i++) printf("%s ", name_of(i));
  printf("\n");
  accumulate(5);
  accumulate(7);
  printf("accumulate=%d\n", accumulate(30));
  return 11;
}
