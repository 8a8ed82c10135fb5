/* Test stand-in for the iOS SDK's <alloca.h>: see ../README.md. */
#ifndef ORCBRIDGE_STUB_ALLOCA_H
#define ORCBRIDGE_STUB_ALLOCA_H
#define alloca __builtin_alloca
#endif
