// C11 <stdatomic.h> with pthreads: fetch_add counters, CAS loops, an atomic_flag spinlock and release/acquire handoff.
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#define NTHREADS 4
#define ITERS 20000

static atomic_long counter;
static atomic_int maxval = -1;
static atomic_flag lock = ATOMIC_FLAG_INIT;
static long plain_total;            /* protected by the spinlock */
static atomic_uint bits;

static _Atomic int ready;
static int payload;

static void *worker(void *arg) {
  int id = (int)(long)arg;
  for (int i = 0; i < ITERS; i++) {
    atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
    int v = id * ITERS + i;
    int cur = atomic_load(&maxval);
    while (v > cur && !atomic_compare_exchange_weak(&maxval, &cur, v)) {
    }
    if (i % 100 == 0) {
      while (atomic_flag_test_and_set_explicit(&lock, memory_order_acquire)) {
      }
      plain_total += i;
      atomic_flag_clear_explicit(&lock, memory_order_release);
    }
  }
  atomic_fetch_or(&bits, 1u << id);
  return NULL;
}

static void *producer(void *arg) {
  (void)arg;
  payload = 4242;
  atomic_store_explicit(&ready, 1, memory_order_release);
  return NULL;
}

static void *consumer(void *arg) {
  int *out = arg;
  while (!atomic_load_explicit(&ready, memory_order_acquire)) {
  }
  *out = payload;
  return NULL;
}

int main(void) {
  pthread_t th[NTHREADS];
  for (int i = 0; i < NTHREADS; i++) pthread_create(&th[i], NULL, worker, (void *)(long)i);
  for (int i = 0; i < NTHREADS; i++) pthread_join(th[i], NULL);
  printf("counter=%ld\n", atomic_load(&counter));
  printf("max=%d\n", atomic_load(&maxval));
  printf("plain_total=%ld\n", plain_total);
  printf("bits=0x%x\n", atomic_load(&bits));
  int got = 0;
  pthread_t p, c;
  pthread_create(&c, NULL, consumer, &got);
  pthread_create(&p, NULL, producer, NULL);
  pthread_join(p, NULL);
  pthread_join(c, NULL);
  printf("handoff payload=%d\n", got);
  atomic_int x = 10;
  int expected = 10;
  int ok1 = atomic_compare_exchange_strong(&x, &expected, 20);
  int ok2 = atomic_compare_exchange_strong(&x, &expected, 30);
  int before = atomic_load(&x);
  int exchanged = atomic_exchange(&x, 5);
  printf("cas: %d %d expected=%d x=%d exchange=%d after=%d\n", ok1, ok2, expected, before, exchanged,
         atomic_load(&x));
  printf("lock-free int: %d\n", atomic_is_lock_free(&x) ? 1 : 0);
  return 35;
}
