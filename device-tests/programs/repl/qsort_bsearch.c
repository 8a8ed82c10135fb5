// libc calling back into JIT'd code: qsort and bsearch with several comparators, including struct keys.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct person { const char *name; int age; };

static int cmp_calls;

static int cmp_int_asc(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  cmp_calls++;
  return (x > y) - (x < y);
}
static int cmp_int_desc(const void *a, const void *b) { return cmp_int_asc(b, a); }
static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}
static int cmp_person(const void *a, const void *b) {
  const struct person *p = a, *q = b;
  if (p->age != q->age) return (p->age > q->age) - (p->age < q->age);
  return strcmp(p->name, q->name);
}
static int cmp_key_person(const void *key, const void *elem) {
  return strcmp((const char *)key, ((const struct person *)elem)->name);
}
static int cmp_person_name(const void *a, const void *b) {
  return strcmp(((const struct person *)a)->name, ((const struct person *)b)->name);
}

int main(void) {
  int nums[200];
  unsigned s = 12345;
  for (int i = 0; i < 200; i++) {
    s = s * 1103515245u + 12345u;
    nums[i] = (int)((s >> 8) % 1000);
  }
  qsort(nums, 200, sizeof nums[0], cmp_int_asc);
  int sorted = 1;
  for (int i = 1; i < 200; i++) sorted &= nums[i - 1] <= nums[i];
  printf("sorted asc: %d, min=%d max=%d, comparator called: %d\n", sorted, nums[0], nums[199],
         cmp_calls > 0);
  for (int i = 0; i < 200; i += 40) printf("%d ", nums[i]);
  printf("\n");
  int key = nums[77];
  int *found = bsearch(&key, nums, 200, sizeof nums[0], cmp_int_asc);
  printf("bsearch %d: found=%d value=%d\n", key, found != NULL, found ? *found : -1);
  key = 1001;
  printf("bsearch 1001: found=%d\n", bsearch(&key, nums, 200, sizeof nums[0], cmp_int_asc) != NULL);
  qsort(nums, 200, sizeof nums[0], cmp_int_desc);
  printf("desc first=%d last=%d\n", nums[0], nums[199]);

  const char *words[] = {"pear", "apple", "fig", "banana", "cherry", "date"};
  qsort(words, 6, sizeof words[0], cmp_str);
  for (int i = 0; i < 6; i++) printf("%s%s", words[i], i < 5 ? "," : "\n");

  struct person people[] = {{"Zoe", 30}, {"Adam", 41}, {"Bea", 30}, {"Carl", 25}, {"Dora", 41}};
  qsort(people, 5, sizeof people[0], cmp_person);
  for (int i = 0; i < 5; i++) printf("%s(%d) ", people[i].name, people[i].age);
  printf("\n");
  qsort(people, 5, sizeof people[0], cmp_person_name);
  struct person *p = bsearch("Carl", people, 5, sizeof people[0], cmp_key_person);
  printf("Carl -> %d\n", p ? p->age : -1);
  return 14;
}
