// String functions from libc: strlen/strcpy/strcat/strcmp/strncmp/strchr/strrchr/strstr/strtok_r/mem*/strspn/toupper.
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reverse(char *s) {
  size_t n = strlen(s);
  for (size_t i = 0; i < n / 2; i++) {
    char t = s[i];
    s[i] = s[n - 1 - i];
    s[n - 1 - i] = t;
  }
}

static int sign(int v) { return (v > 0) - (v < 0); }

int main(void) {
  char buf[128];
  strcpy(buf, "The quick brown fox");
  strcat(buf, " jumps over the lazy dog");
  printf("buf=\"%s\" len=%zu\n", buf, strlen(buf));
  printf("strchr(q)=%s\n", strchr(buf, 'q'));
  printf("strrchr(o)=%s\n", strrchr(buf, 'o'));
  printf("strstr(fox)=%s\n", strstr(buf, "fox"));
  printf("strstr(cat)=%s\n", strstr(buf, "cat") ? "found" : "(null)");
  printf("strcmp: %d %d %d\n", sign(strcmp("abc", "abd")), sign(strcmp("abc", "abc")),
         sign(strcmp("b", "a")));
  printf("strncmp(abcX, abcY, 3)=%d\n", strncmp("abcX", "abcY", 3));
  printf("strspn=%zu strcspn=%zu\n", strspn("aaabbbccc", "ab"), strcspn("hello, world", ",;"));

  char copy[128];
  strncpy(copy, buf, sizeof copy);
  copy[sizeof copy - 1] = '\0';
  int words = 0;
  char *save = NULL;
  for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
    words++;
    printf("[%s]", tok);
  }
  printf(" words=%d\n", words);

  char m[32];
  memset(m, 'x', sizeof m);
  memcpy(m, "0123456789", 10);
  memmove(m + 2, m, 8);
  m[12] = '\0';
  printf("memmove result=%s\n", m);
  printf("memcmp=%d memchr=%s\n", sign(memcmp("abcd", "abce", 4)), (char *)memchr("find-me", '-', 7));

  char up[64];
  const char *src = "Mixed Case 123!";
  size_t i;
  for (i = 0; src[i]; i++) up[i] = (char)toupper((unsigned char)src[i]);
  up[i] = '\0';
  printf("upper=%s\n", up);
  reverse(up);
  printf("reversed=%s\n", up);

  char *dup = strdup("heap copy");
  dup[0] = 'H';
  printf("strdup=%s\n", dup);
  free(dup);

  unsigned hash = 5381;
  for (const char *p = buf; *p; p++) hash = hash * 33u + (unsigned char)*p;
  printf("djb2=%u\n", hash);
  return 12;
}
