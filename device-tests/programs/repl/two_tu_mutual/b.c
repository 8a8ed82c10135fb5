// Second TU of two_tu_mutual.
int pong(int n);                 /* defined in a.c */
extern int a_scale;              /* defined in a.c */
int b_calls;
const char *b_label = "from-b";

int ping(int n) {
  b_calls++;
  return n <= 0 ? 1 : 2 * a_scale + pong(n - 1);
}

int register_callback(int (*cb)(int)) {
  int s = 0;
  for (int i = 1; i <= 4; i++) s += cb(i) + ping(0);
  return s;
}
