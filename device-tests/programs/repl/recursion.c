// Recursion: 10000-deep non-tail recursion, mutual recursion, Ackermann and recursive tree building.
#include <stdio.h>
#include <stdlib.h>

/* Non-tail recursion: the result depends on work done after the call returns. */
static long deep_sum(int n, volatile int *sink) {
  if (n == 0) return 0;
  int local[4] = {n, n * 2, n * 3, n * 4};
  *sink = local[n & 3];
  long r = deep_sum(n - 1, sink);
  return r + local[n & 3] % 7;
}

static int is_even(unsigned n);
static int is_odd(unsigned n) { return n == 0 ? 0 : is_even(n - 1); }
static int is_even(unsigned n) { return n == 0 ? 1 : is_odd(n - 1); }

static unsigned ackermann(unsigned m, unsigned n) {
  if (m == 0) return n + 1;
  if (n == 0) return ackermann(m - 1, 1);
  return ackermann(m - 1, ackermann(m, n - 1));
}

struct node { int key; struct node *left, *right; };

static struct node *insert(struct node *t, int key) {
  if (!t) {
    t = malloc(sizeof *t);
    t->key = key;
    t->left = t->right = NULL;
  } else if (key < t->key) {
    t->left = insert(t->left, key);
  } else {
    t->right = insert(t->right, key);
  }
  return t;
}
static int height(const struct node *t) {
  if (!t) return 0;
  int l = height(t->left), r = height(t->right);
  return 1 + (l > r ? l : r);
}
static void inorder(const struct node *t, int *count, long *weighted) {
  if (!t) return;
  inorder(t->left, count, weighted);
  ++*count;
  *weighted += (long)*count * t->key;
  inorder(t->right, count, weighted);
}
static void free_tree(struct node *t) {
  if (!t) return;
  free_tree(t->left);
  free_tree(t->right);
  free(t);
}

static int hanoi_moves(int n, int from, int to, int via) {
  if (n == 0) return 0;
  return hanoi_moves(n - 1, from, via, to) + 1 + hanoi_moves(n - 1, via, to, from);
}

int main(void) {
  volatile int sink = 0;
  printf("deep_sum(10000)=%ld\n", deep_sum(10000, &sink));
  long d2 = deep_sum(20000, &sink);
  printf("deep_sum(20000)=%ld sink=%d\n", d2, sink);
  printf("is_even(10001)=%d is_odd(10001)=%d is_even(9998)=%d\n", is_even(10001), is_odd(10001),
         is_even(9998));
  printf("ackermann(2,3)=%u ackermann(3,3)=%u\n", ackermann(2, 3), ackermann(3, 3));
  struct node *root = NULL;
  unsigned s = 7;
  for (int i = 0; i < 1000; i++) {
    s = s * 1664525u + 1013904223u;
    root = insert(root, (int)(s >> 16) % 5000);
  }
  int count = 0;
  long weighted = 0;
  inorder(root, &count, &weighted);
  printf("tree: count=%d height=%d weighted=%ld\n", count, height(root), weighted);
  free_tree(root);
  /* degenerate (list-shaped) tree: recursion depth 3000 */
  root = NULL;
  for (int i = 0; i < 3000; i++) root = insert(root, i);
  printf("chain height=%d\n", height(root));
  free_tree(root);
  printf("hanoi(16)=%d\n", hanoi_moves(16, 1, 3, 2));
  return 16;
}
