#include "out.h"
int main(void) {
  __int128 a = (__int128)1 << 100;
  __int128 b = a / 12345 + a % 977;
  unsigned __int128 c = (unsigned __int128)b * 3;
  out_kv("hi", (long long)(b >> 64));
  out_kv("lo mod", (long long)(c % 1000000007));
  out_kv("div", (long long)(a / ((__int128)1 << 70)));
  return 0;
}
