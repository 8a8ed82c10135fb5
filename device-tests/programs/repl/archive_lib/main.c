// Static-archive linking: main uses lib1 and lib2 from libarch.a; lib3.o must not be pulled in (it would clash).
#include <stdio.h>

int lib1_add(int a, int b);          /* lib1.c */
extern const char *lib1_name;        /* lib1.c */
int lib2_mix(int x);                 /* lib2.c, which itself calls lib1_helper() */
extern int lib2_table[4];            /* lib2.c */

int main(void) {
  printf("lib1_add(20, 22)=%d name=%s\n", lib1_add(20, 22), lib1_name);
  printf("lib2_mix(5)=%d\n", lib2_mix(5));
  int s = 0;
  for (int i = 0; i < 4; i++) s += lib2_table[i];
  printf("lib2_table sum=%d\n", s);
  return 46;
}
