// Bitfields (signed/unsigned, packing, overflow wrap of unsigned fields) and unions (type punning, tagged unions).
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct flags {
  unsigned ready : 1;
  unsigned mode : 3;
  signed level : 4;          /* signed bitfield: range -8..7 */
  unsigned count : 8;
  unsigned : 0;              /* force alignment to next unit */
  unsigned long long big : 40;
};

struct packed_rgb {
  uint16_t r : 5, g : 6, b : 5;
};

union pun {
  float f;
  uint32_t u;
  unsigned char bytes[4];
};

union dword {
  uint64_t q;
  struct { uint32_t lo, hi; } d;
  uint16_t w[4];
};

enum kind { K_INT, K_DBL, K_STR };
struct value {
  enum kind kind;
  union {
    long i;
    double d;
    char s[16];
  } as;
};

static void show(const struct value *v) {
  switch (v->kind) {
  case K_INT: printf("int(%ld) ", v->as.i); break;
  case K_DBL: printf("dbl(%.3f) ", v->as.d); break;
  case K_STR: printf("str(%s) ", v->as.s); break;
  }
}

__attribute__((noinline)) static struct flags bump(struct flags f) {
  f.count += 200;              /* unsigned field wraps modulo 256 */
  f.mode = (f.mode + 5) & 7;
  f.level = (signed)(f.level - 3);
  f.big += 1;
  return f;
}

int main(void) {
  struct flags f;
  memset(&f, 0, sizeof f);
  f.ready = 1;
  f.mode = 6;
  f.level = -2;
  f.count = 100;
  f.big = 0xFFFFFFFFFFull;     /* max 40-bit value */
  printf("sizeof(struct flags)=%zu\n", sizeof f);
  printf("ready=%u mode=%u level=%d count=%u big=%llx\n", f.ready, f.mode, f.level, f.count,
         (unsigned long long)f.big);
  f = bump(f);
  printf("after bump: mode=%u level=%d count=%u big=%llx\n", f.mode, f.level, f.count, (unsigned long long)f.big);

  struct packed_rgb px = {31, 63, 0};
  uint16_t raw;
  memcpy(&raw, &px, sizeof raw);
  printf("rgb565 sizeof=%zu raw=0x%04x\n", sizeof px, raw);
  px.b = 17;
  memcpy(&raw, &px, sizeof raw);
  printf("rgb565 with b=17 raw=0x%04x g=%u\n", raw, px.g);

  union pun p;
  p.f = 1.0f;
  printf("1.0f bits=0x%08x\n", p.u);
  p.f = -0.15625f;
  printf("-0.15625f bits=0x%08x bytes=%02x %02x %02x %02x\n", p.u, p.bytes[0], p.bytes[1], p.bytes[2], p.bytes[3]);
  p.u = 0x40490fdbu;
  printf("0x40490fdb as float=%.6f\n", p.f);

  union dword dw;
  dw.q = 0x0123456789abcdefULL;
  printf("lo=%08x hi=%08x w0=%04x w3=%04x sizeof=%zu\n", dw.d.lo, dw.d.hi, dw.w[0], dw.w[3], sizeof dw);

  struct value vals[4];
  vals[0].kind = K_INT;
  vals[0].as.i = -77;
  vals[1].kind = K_DBL;
  vals[1].as.d = 2.718;
  vals[2].kind = K_STR;
  strcpy(vals[2].as.s, "tagged");
  vals[3] = vals[0];
  vals[3].as.i *= 2;
  for (int i = 0; i < 4; i++) show(&vals[i]);
  printf("\nsizeof(struct value)=%zu\n", sizeof(struct value));
  return 40;
}
