// libm: sin/cos/tan/exp/log/pow/fmod/sqrt/atan2/floor/ceil/round/hypot/cbrt, float variants, classification; limited precision.
#include <float.h>
#include <math.h>
#include <stdio.h>

static volatile double inputs[] = {0.0, 0.5, 1.0, 2.25, -3.75, 10.0};

int main(void) {
  for (int i = 0; i < 6; i++) {
    double x = inputs[i];
    printf("x=%6.2f sin=%.6f cos=%.6f exp=%.6e atan=%.6f\n", x, sin(x), cos(x), exp(x), atan(x));
  }
  volatile double a = 2.0, b = 10.0, c = 7.5, d = 2.0;
  printf("pow(2,10)=%.1f pow(2,0.5)=%.9f pow(-2,3)=%.1f\n", pow(a, b), pow(a, 0.5), pow(-a, 3.0));
  printf("fmod(7.5,2)=%.3f fmod(-7.5,2)=%.3f remainder(7.5,2)=%.3f\n", fmod(c, d), fmod(-c, d), remainder(c, d));
  printf("sqrt(2)=%.9f cbrt(27)=%.6f hypot(3,4)=%.6f\n", sqrt(a), cbrt(27.0 + a - 2.0), hypot(3.0 * a / 2, 4.0));
  printf("log(10)=%.9f log10(1000)=%.6f log2(1024)=%.6f log1p(1e-10)=%.6e\n", log(b), log10(b * 100),
         log2(b * 102.4), log1p(1e-10 * a / 2));
  printf("atan2(1,-1)=%.9f tan(0.7)=%.9f asin(0.5)=%.9f\n", atan2(a / 2, -a / 2), tan(0.7 * a / 2), asin(0.5 * a / 2));
  printf("sinh(1)=%.6f tanh(0.5)=%.6f erf(0.5)=%.6f tgamma(5)=%.3f\n", sinh(a / 2), tanh(0.25 * a), erf(0.25 * a),
         tgamma(2.5 * a));
  volatile double r[] = {2.5, -2.5, 3.49, -0.5};
  for (int i = 0; i < 4; i++)
    printf("v=%5.2f floor=%4.1f ceil=%4.1f round=%4.1f trunc=%4.1f lround=%ld rint=%4.1f\n", r[i], floor(r[i]),
           ceil(r[i]), round(r[i]), trunc(r[i]), lround(r[i]), rint(r[i]));
  volatile float ff = 0.3f;
  printf("sinf=%.5f expf=%.5f powf=%.5f sqrtf=%.5f\n", sinf(ff), expf(ff), powf(ff, 2.5f), sqrtf(ff));
  int e;
  double m = frexp(48.0 * a / 2, &e);
  printf("frexp(48)=%.4f*2^%d ldexp=%.1f modf:", m, e, ldexp(m, e));
  double ip, fp = modf(-3.25 * a / 2, &ip);
  printf(" int=%.1f frac=%.2f\n", ip, fp);
  volatile double zero = 0.0;
  double inf = 1.0 / zero, nan_v = zero / zero;
  printf("isinf=%d isnan=%d isfinite=%d signbit(-0)=%d fpclassify(denorm)=%d\n", isinf(inf) != 0, isnan(nan_v) != 0,
         isfinite(a) != 0, signbit(-zero) != 0, fpclassify(DBL_MIN / 4 * a / 2) == FP_SUBNORMAL);
  printf("fmax=%.1f fmin=%.1f fabs=%.2f copysign=%.1f\n", fmax(a, b), fmin(a, b), fabs(-c), copysign(3.0, -a));
  double acc = 0;
  for (int k = 0; k < 1000; k++) acc += sin(k * 0.01) * exp(-k * 0.001);
  printf("series=%.6f\n", acc);
  return 37;
}
