#include "out.h"
static int dense(int x) {
  switch (x) {
  case 0: return 10;
  case 1: return 21;
  case 2: return 32;
  case 3: return 43;
  case 4: return 54;
  case 5: return 65;
  case 6: return 76;
  case 7: return 87;
  default: return -1;
  }
}
static int run(const unsigned char *code) {
  static void *labels[] = {&&op_inc, &&op_dbl, &&op_end};
  int acc = 1;
  goto *labels[*code++];
op_inc:
  acc += 1;
  goto *labels[*code++];
op_dbl:
  acc *= 2;
  goto *labels[*code++];
op_end:
  return acc;
}
int main(void) {
  long s = 0;
  for (int i = -1; i < 9; i++) s = s * 3 + dense(i);
  out_kv("dense", s);
  const unsigned char prog[] = {0, 1, 1, 0, 2};
  out_kv("threaded", run(prog));
  return 0;
}
