/* Test stand-in for the iOS SDK's <inttypes.h>: see ../README.md (Darwin's int64_t is long long). */
#ifndef ORCBRIDGE_STUB_INTTYPES_H
#define ORCBRIDGE_STUB_INTTYPES_H
#include <stdint.h>
#define PRId32 "d"
#define PRIu32 "u"
#define PRIx32 "x"
#define PRId64 "lld"
#define PRIu64 "llu"
#define PRIx64 "llx"
#define PRIX64 "llX"
#define PRIdPTR "ld"
#define PRIuPTR "lu"
#define PRIxPTR "lx"
#endif
