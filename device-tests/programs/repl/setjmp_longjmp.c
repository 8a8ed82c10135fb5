// setjmp/longjmp: non-local exits from nested calls, preserved volatile locals, nested jmp_buf error handling.
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

static jmp_buf env;
static int depth_reached;
static int jump_value;

static void dive(int depth, int limit) {
  char pad[64];
  memset(pad, depth & 0xff, sizeof pad);
  depth_reached = depth;
  if (depth == limit) {
    jump_value = depth * 10 + pad[5] % 3;
    longjmp(env, jump_value);
  }
  dive(depth + 1, limit);
}

/* A tiny "try/catch" built from a stack of jmp_bufs. */
static jmp_buf *handlers[8];
static int nhandlers;
static const char *last_error;

static void raise_error(const char *msg) {
  last_error = msg;
  longjmp(*handlers[nhandlers - 1], 1);
}

static int parse_digit(char c) {
  if (c < '0' || c > '9') raise_error("not a digit");
  return c - '0';
}

static int parse_number(const char *s) {
  int v = 0;
  for (; *s; s++) v = v * 10 + parse_digit(*s);
  return v;
}

static int try_parse(const char *s, int *out) {
  jmp_buf h;
  handlers[nhandlers++] = &h;
  if (setjmp(h) == 0) {
    *out = parse_number(s);
    nhandlers--;
    return 1;
  }
  nhandlers--;
  return 0;
}

int main(void) {
  volatile int attempts = 0;
  if (setjmp(env) == 0) printf("setjmp returned 0 (attempt %d)\n", attempts + 1);
  else printf("longjmp delivered %d (attempt %d)\n", jump_value, attempts + 1);
  attempts++;
  if (attempts < 4) dive(1, attempts * 50);
  printf("depth reached %d\n", depth_reached);

  const char *inputs[] = {"123", "4x5", "98765", "", "0a"};
  for (int i = 0; i < 5; i++) {
    int v = -1;
    if (try_parse(inputs[i], &v)) printf("parse(\"%s\") = %d\n", inputs[i], v);
    else printf("parse(\"%s\") failed: %s\n", inputs[i], last_error);
  }

  /* outer handler survives an inner one that already returned */
  jmp_buf outer;
  handlers[nhandlers++] = &outer;
  volatile int phase = 0;
  if (setjmp(outer) == 0) {
    phase = 1;
    int dummy;
    try_parse("77", &dummy);
    phase = 2;
    raise_error("outer error");
  }
  nhandlers--;
  printf("outer caught '%s' in phase %d, handlers=%d\n", last_error, phase, nhandlers);
  return 20;
}
