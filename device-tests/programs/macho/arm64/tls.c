#include <pthread.h>
#include "out.h"
static _Thread_local int counter = 10;
_Thread_local long shared_name[4];
static void *worker(void *arg) {
  counter += (int)(long)arg;
  shared_name[1] = counter * 2;
  return (void *)(long)(counter + shared_name[1]);
}
int main(void) {
  pthread_t t[3];
  for (long i = 0; i < 3; i++) pthread_create(&t[i], 0, worker, (void *)(i + 1));
  long total = 0;
  for (int i = 0; i < 3; i++) {
    void *r;
    pthread_join(t[i], &r);
    total += (long)r;
  }
  counter += 1;
  out_kv("total", total);
  out_kv("main counter", counter);
  out_kv("main shared", shared_name[1]);
  return 0;
}
