/* Label differences and pointers between sections: Mach-O SUBTRACTOR/UNSIGNED pairs,
 * section-relative (r_extern = 0) relocations, jump tables, weak definitions. */
int printf(const char *, ...);

static const char *const names[] = {"zero", "one", "two", "three"};
static const int offsets[] = {10, 20, 30, 40};
struct Entry {
  const char *name;
  const int *value;
};
static struct Entry table[] = {{"a", &offsets[0]}, {"b", &offsets[2]}};
__attribute__((weak)) int weak_value = 5;
/* Self-relative offsets (as position-independent tables hold them): To - From with the place
 * in From's section, 64 and 32 bits. */
const int public_offsets[] = {1, 2, 3, 4};
const char *const public_names[] = {"zero", "one", "two", "three"};
extern const long to_offsets;
extern const int to_names32;
#ifdef __MACH__
#define SYM(x) "_" #x
__asm__(".section __DATA,__data\n");
#else
#define SYM(x) #x
__asm__(".data\n");
#endif
__asm__(".globl " SYM(to_offsets) "\n"
        ".globl " SYM(to_names32) "\n"
        ".p2align 3\n" SYM(to_offsets) ":\n"
        "  .quad " SYM(public_offsets) " - " SYM(to_offsets) "\n" SYM(to_names32) ":\n"
        "  .long " SYM(public_names) " - " SYM(to_names32) "\n"
        ".text\n");
/* The other direction, the place in the subtrahend's atom (Mach-O only: ELF cannot express
 * "here minus another section's symbol"; the native build computes the same value). */
extern long from_offsets;
#ifdef __MACH__
__asm__(".section __DATA,__data\n"
        ".globl " SYM(from_offsets) "\n"
        ".p2align 3\n" SYM(from_offsets) ":\n"
        "  .quad " SYM(from_offsets) " - " SYM(public_offsets) "\n"
        ".text\n");
#else
long from_offsets;
__attribute__((constructor)) static void init_from_offsets(void) {
  from_offsets = (const char *)&from_offsets - (const char *)public_offsets;
}
#endif

static int dispatch(int op, int x) {
  static void *labels[] = {&&add, &&sub, &&mul};
  static const int deltas[] = {&&sub - &&add, &&mul - &&add};
  if (op < 0 || op > 2) return -1;
  goto *labels[op];
add:
  return x + deltas[0] * 0 + 1;
sub:
  return x - 1;
mul:
  return x * 2 + (deltas[1] != 0 ? 0 : 100);
}

int main(void) {
  int s = 0;
  for (int i = 0; i < 4; i++) s += offsets[i];
  printf("%s %s %d %d %d\n", names[1], table[1].name, *table[1].value, s, weak_value);
  printf("%d %d %d\n", dispatch(0, 5), dispatch(1, 5), dispatch(2, 5));
  const int *o = (const int *)((const char *)&to_offsets + to_offsets);
  const char *const *n = (const char *const *)((const char *)&to_names32 + to_names32);
  printf("self-relative: %d %s\n", o[3], n[2]);
  const int *back = (const int *)((const char *)&from_offsets - from_offsets);
  printf("reverse: %d\n", back[1]);
  return 0;
}
