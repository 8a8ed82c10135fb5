/* Test stand-in for the iOS SDK's <pthread.h>: see ../README.md (only what the programs use). */
#ifndef ORCBRIDGE_STUB_PTHREAD_H
#define ORCBRIDGE_STUB_PTHREAD_H
typedef struct _opaque_pthread_t *pthread_t;
typedef struct { long opaque[8]; } pthread_attr_t;
int pthread_create(pthread_t *restrict, const pthread_attr_t *restrict, void *(*)(void *), void *restrict);
int pthread_join(pthread_t, void **);
pthread_t pthread_self(void);
#endif
