// Second TU of static_same_name: static symbols with the same names as in a.c.
static int counter = 5000;
static int helper(int x) { return x * 2 + counter--; }
static const char *whoami(void) { return "b.c"; }

int b_entry(int x) { return helper(x); }
const char *b_whoami(void) { return whoami(); }
int (*b_helper_ptr(void))(int) { return helper; }
