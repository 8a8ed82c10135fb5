// GNU C computed goto (labels as values): a threaded bytecode interpreter and a static label-address table.
#include <stdio.h>

enum { OP_PUSH, OP_ADD, OP_SUB, OP_MUL, OP_DUP, OP_SWAP, OP_JNZ, OP_DEC, OP_PRINT, OP_HALT, OP_OVER, OP_DROP };

static long run(const int *code, int *steps) {
  static const void *const table[] = {&&do_push, &&do_add, &&do_sub, &&do_mul, &&do_dup,
                                      &&do_swap, &&do_jnz, &&do_dec, &&do_print, &&do_halt,
                                      &&do_over, &&do_drop};
  long stack[64];
  int sp = 0;
  const int *pc = code;
  *steps = 0;
#define NEXT do { ++*steps; goto *table[*pc++]; } while (0)
  NEXT;
do_push:
  stack[sp++] = *pc++;
  NEXT;
do_add:
  sp--; stack[sp - 1] += stack[sp];
  NEXT;
do_sub:
  sp--; stack[sp - 1] -= stack[sp];
  NEXT;
do_mul:
  sp--; stack[sp - 1] *= stack[sp];
  NEXT;
do_dup:
  stack[sp] = stack[sp - 1]; sp++;
  NEXT;
do_swap: {
  long t = stack[sp - 1]; stack[sp - 1] = stack[sp - 2]; stack[sp - 2] = t;
  NEXT;
}
do_jnz: {
  int target = *pc++;
  if (stack[--sp] != 0) pc = code + target;
  NEXT;
}
do_dec:
  stack[sp - 1]--;
  NEXT;
do_over:
  stack[sp] = stack[sp - 2]; sp++;
  NEXT;
do_drop:
  sp--;
  NEXT;
do_print:
  printf("  top=%ld depth=%d\n", stack[sp - 1], sp);
  NEXT;
do_halt:
#undef NEXT
  return sp ? stack[sp - 1] : 0;
}

/* label differences stored in a local table (the classic position-independent form) */
static int classify(int v) {
  static const int offsets[] = {&&neg - &&neg, &&zero - &&neg, &&pos - &&neg};
  int idx = v < 0 ? 0 : v == 0 ? 1 : 2;
  goto *(&&neg + offsets[idx]);
neg:
  return -1;
zero:
  return 0;
pos:
  return 1;
}

int main(void) {
  const int prog1[] = {OP_PUSH, 3, OP_PUSH, 4, OP_MUL, OP_PUSH, 5, OP_ADD, OP_PRINT, OP_HALT};
  const int prog2[] = {OP_PUSH, 5,                     /* 0: n */
                       OP_PRINT,                        /* 2 */
                       OP_DEC,                          /* 3 */
                       OP_DUP, OP_JNZ, 2,               /* 4: loop while n != 0 */
                       OP_PUSH, 1000, OP_ADD, OP_HALT};
  /* factorial(12): stack [acc n]; loop: swap, over, mul, swap, dec, dup, jnz */
  const int prog3[] = {OP_PUSH, 1, OP_PUSH, 12,        /* 0: acc n */
                       OP_SWAP, OP_OVER, OP_MUL,        /* 4: n acc*n */
                       OP_SWAP, OP_DEC,                 /* 7: acc' n-1 */
                       OP_DUP, OP_JNZ, 4,               /* 9 */
                       OP_DROP, OP_PRINT, OP_HALT};
  int steps;
  long r = run(prog1, &steps);
  printf("prog1=%ld steps=%d\n", r, steps);
  r = run(prog2, &steps);
  printf("prog2=%ld steps=%d\n", r, steps);
  r = run(prog3, &steps);
  printf("prog3=%ld steps=%d\n", r, steps);
  printf("classify: %d %d %d\n", classify(-7), classify(0), classify(12));
  return 32;
}
