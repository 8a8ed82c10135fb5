#include <math.h>
#include "out.h"
static long long milli(double v) { return llround(v * 1000.0); }
int main(void) {
  volatile double x = 2.0;
  out_kv("sqrt2", milli(sqrt(x)));
  out_kv("sin1", milli(sin(x / 2)));
  out_kv("pow", milli(pow(x, 10.5)));
  out_kv("exp", milli(exp(x)));
  out_kv("log", milli(log(x * 5)));
  out_kv("atan2", milli(atan2(x, -x)));
  out_kv("fmod", milli(fmod(17.5, x * 2)));
  out_kv("floor", milli(floor(-x * 1.25)));
  return 0;
}
