// Function pointers: dispatch tables, pointers stored in structs, returned from functions, compared.
#include <stdio.h>
#include <string.h>

typedef int (*binop)(int, int);
static int add(int a, int b) { return a + b; }
static int sub(int a, int b) { return a - b; }
static int mul(int a, int b) { return a * b; }
static int divi(int a, int b) { return b ? a / b : 0; }
static int mod(int a, int b) { return b ? a % b : 0; }

static const binop ops[] = {add, sub, mul, divi, mod};
static const char opchars[] = "+-*/%";

struct command {
  const char *name;
  int (*fn)(int);
};
static int twice(int x) { return 2 * x; }
static int square(int x) { return x * x; }
static int negate(int x) { return -x; }
static const struct command commands[] = {{"twice", twice}, {"square", square}, {"negate", negate}};

static binop lookup(char c) {
  const char *p = strchr(opchars, c);
  return p ? ops[p - opchars] : NULL;
}

static int apply_n(int (*f)(int), int n, int x) {
  while (n-- > 0) x = f(x);
  return x;
}

/* Evaluate a simple postfix expression using the dispatch table. */
static int rpn(const char *expr) {
  int stack[16], sp = 0;
  for (const char *p = expr; *p; p++) {
    if (*p >= '0' && *p <= '9') {
      stack[sp++] = *p - '0';
    } else if (*p != ' ') {
      int b = stack[--sp], a = stack[--sp];
      stack[sp++] = lookup(*p)(a, b);
    }
  }
  return stack[0];
}

int (*volatile indirect)(int) = square;

int main(void) {
  for (int i = 0; i < 5; i++) printf("17 %c 5 = %d\n", opchars[i], ops[i](17, 5));
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    printf("%s(7) = %d, applied 3x = %d\n", commands[i].name, commands[i].fn(7),
           apply_n(commands[i].fn, 3, 2));
  printf("rpn(34+5*) = %d\n", rpn("3 4 + 5 *"));
  printf("rpn(92-8*3%%) = %d\n", rpn("9 2 - 8 * 3 %"));
  printf("lookup('*') == mul: %d\n", lookup('*') == mul);
  printf("lookup('?') == NULL: %d\n", lookup('?') == NULL);
  printf("indirect(9) = %d\n", indirect(9));
  indirect = negate;
  printf("indirect(9) = %d\n", indirect(9));
  return 13;
}
