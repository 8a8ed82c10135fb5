/* Test stand-in for the iOS SDK's <math.h>: see ../README.md. */
#ifndef ORCBRIDGE_STUB_MATH_H
#define ORCBRIDGE_STUB_MATH_H
#define HUGE_VAL __builtin_huge_val()
#define INFINITY __builtin_inff()
#define NAN __builtin_nanf("")
#define M_PI 3.14159265358979323846
#define isnan(x) __builtin_isnan(x)
#define isinf(x) __builtin_isinf(x)
#define isfinite(x) __builtin_isfinite(x)
#define signbit(x) __builtin_signbit(x)
#define ORCBRIDGE_MATH1(fn) double fn(double); float fn##f(float); long double fn##l(long double);
#define ORCBRIDGE_MATH2(fn) double fn(double, double); float fn##f(float, float); long double fn##l(long double, long double);
ORCBRIDGE_MATH1(sin) ORCBRIDGE_MATH1(cos) ORCBRIDGE_MATH1(tan) ORCBRIDGE_MATH1(asin) ORCBRIDGE_MATH1(acos)
ORCBRIDGE_MATH1(atan) ORCBRIDGE_MATH1(sinh) ORCBRIDGE_MATH1(cosh) ORCBRIDGE_MATH1(tanh) ORCBRIDGE_MATH1(exp)
ORCBRIDGE_MATH1(exp2) ORCBRIDGE_MATH1(log) ORCBRIDGE_MATH1(log2) ORCBRIDGE_MATH1(log10) ORCBRIDGE_MATH1(sqrt)
ORCBRIDGE_MATH1(cbrt) ORCBRIDGE_MATH1(fabs) ORCBRIDGE_MATH1(floor) ORCBRIDGE_MATH1(ceil) ORCBRIDGE_MATH1(round)
ORCBRIDGE_MATH1(trunc) ORCBRIDGE_MATH1(rint) ORCBRIDGE_MATH1(nearbyint) ORCBRIDGE_MATH1(log1p)
ORCBRIDGE_MATH1(expm1) ORCBRIDGE_MATH1(erf) ORCBRIDGE_MATH1(erfc) ORCBRIDGE_MATH1(tgamma) ORCBRIDGE_MATH1(lgamma)
ORCBRIDGE_MATH2(pow) ORCBRIDGE_MATH2(atan2) ORCBRIDGE_MATH2(fmod) ORCBRIDGE_MATH2(hypot) ORCBRIDGE_MATH2(fmin)
ORCBRIDGE_MATH2(fmax) ORCBRIDGE_MATH2(copysign) ORCBRIDGE_MATH2(remainder)
long lround(double);
long long llround(double);
double frexp(double, int *);
double ldexp(double, int);
double modf(double, double *);
#define FP_NAN 1
#define FP_INFINITE 2
#define FP_ZERO 3
#define FP_NORMAL 4
#define FP_SUBNORMAL 5
#define fpclassify(x) __builtin_fpclassify(FP_NAN, FP_INFINITE, FP_NORMAL, FP_SUBNORMAL, FP_ZERO, x)
#undef ORCBRIDGE_MATH1
#undef ORCBRIDGE_MATH2
#endif
