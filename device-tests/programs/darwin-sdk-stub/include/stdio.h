/* Test stand-in for the iOS SDK's <stdio.h>: see ../README.md. */
#ifndef ORCBRIDGE_STUB_STDIO_H
#define ORCBRIDGE_STUB_STDIO_H
#include <stdarg.h>
#include <stddef.h>
typedef struct __sFILE FILE;
extern FILE *__stdinp, *__stdoutp, *__stderrp;
#define stdin __stdinp
#define stdout __stdoutp
#define stderr __stderrp
#define EOF (-1)
#define BUFSIZ 1024
int printf(const char *restrict, ...);
int fprintf(FILE *restrict, const char *restrict, ...);
int sprintf(char *restrict, const char *restrict, ...);
int snprintf(char *restrict, size_t, const char *restrict, ...);
int vprintf(const char *restrict, va_list);
int vfprintf(FILE *restrict, const char *restrict, va_list);
int vsprintf(char *restrict, const char *restrict, va_list);
int vsnprintf(char *restrict, size_t, const char *restrict, va_list);
int sscanf(const char *restrict, const char *restrict, ...);
int puts(const char *);
int fputs(const char *restrict, FILE *restrict);
int putchar(int);
int fputc(int, FILE *);
int putc(int, FILE *);
int getchar(void);
int fgetc(FILE *);
char *fgets(char *restrict, int, FILE *restrict);
size_t fwrite(const void *restrict, size_t, size_t, FILE *restrict);
size_t fread(void *restrict, size_t, size_t, FILE *restrict);
int fflush(FILE *);
void perror(const char *);
#endif
