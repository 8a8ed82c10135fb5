// thread_local with dynamic initialization and a destructor on Darwin (TLV descriptors,
// __tlv_bootstrap, _tlv_atexit), without the SDK's headers.
extern "C" int printf(const char *, ...);
typedef struct _opaque_pthread_t *pthread_t;
extern "C" int pthread_create(pthread_t *, const void *, void *(*)(void *), void *);
extern "C" int pthread_join(pthread_t, void **);

static int next_id = 0;
static int make_id() { return ++next_id * 10; }

struct PerThread {
  int id;
  PerThread() : id(make_id()) {}
  ~PerThread() { printf("thread object %d destroyed\n", id); }
};

thread_local PerThread object;
thread_local int plain = 7;
static _Thread_local long counter = 100;

static void *worker(void *) {
  plain += 1;
  counter += 5;
  printf("worker: plain %d counter %ld object %d\n", plain, counter, object.id);
  return nullptr;
}

int main() {
  plain = 1;
  printf("main: plain %d counter %ld object %d\n", plain, counter, object.id);
  pthread_t t;
  pthread_create(&t, nullptr, worker, nullptr);
  pthread_join(t, nullptr);
  printf("main again: plain %d counter %ld\n", plain, counter);
  return 0;
}
