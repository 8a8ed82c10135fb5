// argv handling in C: prints argc-1 and argv[1..], parses numeric arguments; ignores argv[0].
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  printf("args=%d\n", argc - 1);
  long total = 0;
  size_t chars = 0;
  for (int i = 1; i < argc; i++) {
    char *end;
    long v = strtol(argv[i], &end, 10);
    int numeric = *argv[i] != '\0' && *end == '\0';
    printf("argv[%d]=\"%s\" len=%zu%s", i, argv[i], strlen(argv[i]), numeric ? " numeric" : "");
    if (numeric) total += v;
    printf("\n");
    chars += strlen(argv[i]);
  }
  printf("numeric total=%ld chars=%zu\n", total, chars);
  printf("argv[argc] is NULL: %d\n", argv[argc] == NULL);
  return 50 + (argc - 1);
}
