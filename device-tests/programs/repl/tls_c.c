// C11 _Thread_local with pthreads: .tdata and .tbss variables, TLS arrays and pointers, each thread its own copy.
#include <pthread.h>
#include <stdio.h>

#define NTHREADS 4
_Thread_local int tls_counter = 100;      /* .tdata */
_Thread_local long tls_zero;              /* .tbss */
static _Thread_local int tls_arr[16];     /* .tbss array */
static _Thread_local const char *tls_name = "unnamed";

struct result { int id; int counter; long zero; int arr_sum; const char *name; int own_copy; };
static struct result results[NTHREADS];
static const char *names[NTHREADS] = {"t0", "t1", "t2", "t3"};

static void bump(int *p, int by) { *p += by; }    /* address of a TLS variable passed around */

static void *worker(void *arg) {
  int id = (int)(long)arg;
  int *mine = &tls_counter;
  for (int i = 0; i < 1000 * (id + 1); i++) bump(mine, 1);
  for (int i = 0; i < 16; i++) tls_arr[i] = id * i;
  tls_zero += id * 7;
  tls_name = names[id];
  int s = 0;
  for (int i = 0; i < 16; i++) s += tls_arr[i];
  results[id] = (struct result){id, tls_counter, tls_zero, s, tls_name, mine == &tls_counter};
  return NULL;
}

int main(void) {
  tls_counter = 5;  /* main thread's copy: must not leak into other threads */
  tls_zero = -1;
  pthread_t th[NTHREADS];
  for (int i = 0; i < NTHREADS; i++) pthread_create(&th[i], NULL, worker, (void *)(long)i);
  for (int i = 0; i < NTHREADS; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < NTHREADS; i++)
    printf("thread %d: counter=%d zero=%ld arr_sum=%d name=%s stable_addr=%d\n", results[i].id,
           results[i].counter, results[i].zero, results[i].arr_sum, results[i].name,
           results[i].own_copy);
  printf("main: counter=%d zero=%ld name=%s\n", tls_counter, tls_zero, tls_name);
  return 18;
}
