/* Test stand-in for the iOS SDK's <errno.h>: see ../README.md. */
#ifndef ORCBRIDGE_STUB_ERRNO_H
#define ORCBRIDGE_STUB_ERRNO_H
extern int *__error(void);
#define errno (*__error())
#define ENOENT 2
#define EINVAL 22
#define EDOM 33
#define ERANGE 34
#endif
