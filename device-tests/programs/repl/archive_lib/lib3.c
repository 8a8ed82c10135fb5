// Archive member 3: must NOT be linked. It defines a second main() (duplicate symbol if pulled in) and a
// constructor that would print an error line. Nothing in main.c, lib1.c or lib2.c references its symbols.
#include <stdio.h>

int lib3_unused(int x) { return x - 1; }

__attribute__((constructor)) static void lib3_ctor(void) { printf("ERROR: lib3.o was linked\n"); }

int main(void) {
  printf("ERROR: wrong main from lib3.o\n");
  return lib3_unused(100);
}
