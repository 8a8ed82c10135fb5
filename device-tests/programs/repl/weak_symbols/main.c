// Weak symbols: weak default definitions, some overridden by strong definitions in override.c, plus a weak undefined reference.
#include <stdio.h>

__attribute__((weak)) int hook_value(void) { return 1; }          /* overridden in override.c */
__attribute__((weak)) const char *hook_name(void) { return "default-name"; }  /* NOT overridden */
__attribute__((weak)) int tunable = 10;                            /* overridden in override.c */
__attribute__((weak)) int untouched_tunable = 20;                  /* NOT overridden */
extern int optional_feature(void) __attribute__((weak));           /* never defined anywhere */

int call_hook_from_main(void) { return hook_value() * 2; }
int strong_in_override_user(void);

int main(void) {
  printf("hook_value=%d\n", hook_value());
  printf("hook_name=%s\n", hook_name());
  printf("tunable=%d untouched_tunable=%d\n", tunable, untouched_tunable);
  printf("optional_feature present=%d\n", optional_feature != 0);
  if (optional_feature) printf("unexpected: %d\n", optional_feature());
  printf("call_hook_from_main=%d via other TU=%d\n", call_hook_from_main(), strong_in_override_user());
  int (*fp)(void) = hook_value;
  printf("function pointer call=%d\n", fp());
  return 42;
}
