/* Test stand-in for the iOS SDK's <ctype.h>: see ../README.md. */
#ifndef ORCBRIDGE_STUB_CTYPE_H
#define ORCBRIDGE_STUB_CTYPE_H
int isalnum(int);
int isalpha(int);
int isdigit(int);
int isxdigit(int);
int islower(int);
int isupper(int);
int isspace(int);
int ispunct(int);
int isprint(int);
int iscntrl(int);
int tolower(int);
int toupper(int);
#endif
