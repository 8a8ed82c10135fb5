// exit(7) called from a nested function: atexit handlers run in reverse registration order and buffered stdout is flushed.
#include <stdio.h>
#include <stdlib.h>

static int state = 0;

static void handler1(void) { printf("handler1 (registered first, runs last) state=%d\n", state); }
static void handler2(void) {
  state += 10;
  printf("handler2 state=%d\n", state);
}
static void handler3(void) { printf("handler3 (registered last, runs first)\n"); }

static void level3(int v) {
  printf("level3: v=%d, calling exit(7)\n", v);
  state = v;
  exit(7);
}
static int level2(int v) {
  level3(v * 2);
  printf("not reached\n");
  return -1;
}
static int level1(int v) { return level2(v + 1) + 1; }

int main(void) {
  atexit(handler1);
  atexit(handler2);
  atexit(handler3);
  printf("main: buffered line that must survive exit()\n");
  int r = level1(20);
  printf("not reached either %d\n", r);
  return 99;
}
