// long double (x87 80-bit) arithmetic, conversions and libm long double functions, printed with %.6Lf / %.6Le.
#include <float.h>
#include <math.h>
#include <stdio.h>

__attribute__((noinline)) static long double harmonic(int n) {
  long double s = 0.0L;
  for (int i = n; i >= 1; i--) s += 1.0L / i;
  return s;
}

__attribute__((noinline)) static long double ld_pow_int(long double b, int e) {
  long double r = 1.0L;
  while (e-- > 0) r *= b;
  return r;
}

static long double average(const long double *v, int n) {
  long double s = 0;
  for (int i = 0; i < n; i++) s += v[i];
  return s / n;
}

int main(void) {
  volatile long double third = 1.0L / 3.0L;
  printf("1/3=%.6Lf 3*(1/3)=%.6Lf\n", third, 3.0L * third);
  printf("LDBL_MANT_DIG=%d sizeof=%zu\n", LDBL_MANT_DIG, sizeof(long double));
  printf("harmonic(1000)=%.6Lf\n", harmonic(1000));
  /* 2^63 + 1 is exact in long double (64-bit mantissa) but not in double */
  volatile long double big = ld_pow_int(2.0L, 63);
  long double bigp1 = big + 1.0L;
  double as_double = (double)bigp1;
  printf("2^63+1 - 2^63: long double=%.1Lf double=%.1f\n", bigp1 - big, as_double - (double)big);
  printf("2^63=%.6Le 2^63+2^62+1=%.1Lf\n", big, big + big / 2 + 1.0L);
  volatile long double x = 0.5L;
  printf("sinl=%.6Lf cosl=%.6Lf expl=%.6Lf logl=%.6Lf sqrtl(2)=%.6Lf\n", sinl(x), cosl(x), expl(x), logl(x),
         sqrtl(4.0L * x));
  printf("powl(1.5,20)=%.6Lf fmodl(10.5,3)=%.6Lf fabsl=%.6Lf\n", powl(3.0L * x, 20.0L), fmodl(21.0L * x, 3.0L),
         fabsl(-x));
  long double v[] = {1.25L, 2.5L, -3.5L, 1e10L, -1e10L};
  printf("average=%.6Lf\n", average(v, 5));
  unsigned long long u = 18446744073709551615ULL;
  long double lu = (long double)u;
  printf("ull max as long double=%.1Lf back=%llu\n", lu, (unsigned long long)lu);
  long double neg = -123456789.987654321L;
  printf("neg=%.6Lf to long=%ld floorl=%.1Lf roundl=%.1Lf\n", neg, (long)neg, floorl(neg), roundl(neg));
  long double eps = LDBL_EPSILON;
  printf("1+eps>1: %d 1+eps/2>1: %d\n", 1.0L + eps > 1.0L, 1.0L + eps / 2 > 1.0L);
  long double prod = 1.0L;
  for (int i = 1; i <= 25; i++) prod *= i;
  printf("25!=%.1Lf\n", prod);
  return 41;
}
