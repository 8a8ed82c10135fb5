// Exit status truncation: main returns 300, so the process exit status is 300 & 0xff = 44.
#include <stdio.h>

static int compute_status(int n) {
  int s = 0;
  for (int i = 1; i <= n; i++) s += i;  /* 1 + ... + 24 = 300 */
  return s;
}

int main(void) {
  int status = compute_status(24);
  printf("main returns %d; the parent sees %d\n", status, status & 0xff);
  return status;
}
