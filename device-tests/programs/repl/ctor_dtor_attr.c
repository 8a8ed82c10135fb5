// GCC/Clang __attribute__((constructor/destructor)) with and without priorities, plus atexit interplay, in C.
#include <stdio.h>
#include <stdlib.h>

static int init_sequence[8];
static int init_count;

__attribute__((constructor(101))) static void early(void) { init_sequence[init_count++] = 101; }
__attribute__((constructor(202))) static void later(void) { init_sequence[init_count++] = 202; }
__attribute__((constructor)) static void plain_ctor(void) { init_sequence[init_count++] = 999; }
__attribute__((constructor(150))) static void middle(void) { init_sequence[init_count++] = 150; }

static void from_atexit(void) { printf("atexit handler (registered in main)\n"); }

__attribute__((destructor)) static void plain_dtor(void) { printf("destructor (no priority)\n"); }
__attribute__((destructor(101))) static void dtor_101(void) { printf("destructor priority 101\n"); }
__attribute__((destructor(300))) static void dtor_300(void) { printf("destructor priority 300\n"); }

int main(void) {
  printf("constructors ran: %d\n", init_count);
  printf("order:");
  for (int i = 0; i < init_count; i++) printf(" %d", init_sequence[i]);
  printf("\n");
  atexit(from_atexit);
  printf("main returning\n");
  return 43;
}
