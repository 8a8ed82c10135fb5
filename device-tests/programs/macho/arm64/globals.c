#include "out.h"
int counter = 5;
static int zeroed[1000];
static char big[16 << 20];
const int table[] = {2, 3, 5, 7, 11};
int *ptr = &counter;
const int *tptr = &table[3];
static const char *const words[] = {"alpha", "beta", "gamma"};
static int next(void) { static int n = 100; return ++n; }
int main(void) {
  zeroed[999] = 4;
  big[sizeof big - 1] = 9;
  *ptr += 10;
  next();
  out_kv("counter", counter);
  out_kv("zeroed", zeroed[0] + zeroed[999]);
  out_kv("big", big[0] + big[sizeof big - 1]);
  out_kv("tptr", *tptr);
  out_kv("next", next());
  out_str(words[2]);
  out_str("\n");
  return 3;
}
