#include <stdio.h>

int main(int argc, char **argv) {
  printf("hello from JIT'd code, %d argument(s)", argc);
  for (int i = 0; i < argc; i++) printf(" [%s]", argv[i]);
  printf("\n");
  return 0;
}
