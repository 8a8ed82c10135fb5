// Archive member 1 (pulled in: main references lib1_add and lib1_name).
const char *lib1_name = "lib1";
int lib1_add(int a, int b) { return a + b; }
int lib1_helper(int x) { return x * 100; }   /* used only by lib2.c */
