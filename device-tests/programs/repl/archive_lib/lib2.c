// Archive member 2 (pulled in: main references lib2_mix and lib2_table); depends on lib1_helper from lib1.
int lib1_helper(int x);
int lib2_table[4] = {1, 2, 3, 4};
int lib2_mix(int x) { return lib1_helper(x) + lib2_table[x % 4]; }
