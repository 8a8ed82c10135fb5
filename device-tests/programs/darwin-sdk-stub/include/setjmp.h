/* Test stand-in for the iOS SDK's <setjmp.h>: see ../README.md (sized for glibc's setjmp). */
#ifndef ORCBRIDGE_STUB_SETJMP_H
#define ORCBRIDGE_STUB_SETJMP_H
typedef long jmp_buf[40];
int setjmp(jmp_buf) __attribute__((returns_twice));
void longjmp(jmp_buf, int) __attribute__((noreturn));
#endif
