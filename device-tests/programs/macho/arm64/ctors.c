#include <stdlib.h>
#include "out.h"
static int order;
__attribute__((constructor)) static void first(void) { out_kv("ctor", ++order); }
__attribute__((constructor)) static void second(void) { out_kv("ctor", ++order); }
__attribute__((destructor)) static void last(void) { out_str("dtor\n"); }
static void handler(void) { out_str("atexit\n"); }
int main(void) {
  atexit(handler);
  out_kv("main sees", order);
  exit(12);
}
