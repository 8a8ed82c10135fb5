#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "out.h"
int main(void) {
  char buf[64];
  strcpy(buf, "hello");
  strcat(buf, ", world");
  out_str(buf);
  out_str("\n");
  out_kv("len", (long long)strlen(buf));
  out_kv("cmp", strcmp("abc", "abd") < 0);
  out_kv("strstr", strstr(buf, "world") - buf);
  char list[] = "one,two,,three";
  char *save = 0;
  for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(0, ",", &save)) {
    out_str(t);
    out_str("|");
  }
  out_str("\n");
  char *d = strdup("MiXeD");
  for (char *p = d; *p; p++) *p = (char)toupper((unsigned char)*p);
  out_str(d);
  out_str("\n");
  free(d);
  memmove(buf + 1, buf, 5);
  buf[6] = 0;
  out_str(buf);
  out_str("\n");
  out_kv("strtol", strtol("-123xyz", 0, 10));
  return 0;
}
