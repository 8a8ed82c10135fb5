/*
 * orcbridge's target-side runtime.
 *
 * The host compiles this file for the executor's target triple and links it into every JIT
 * session before any user code, so it works in any executor that speaks the protocol
 * (orc-executor or LLVM's llvm-jitlink-executor): it is just JIT'd code. It supplies what a
 * native program gets from the static linker, crt files and libc_nonshared.a, and what the
 * host needs to run code and collect values with few round trips:
 *
 *  - __dso_handle, __cxa_atexit, atexit, at_quick_exit, pthread_atfork: exit-time work
 *    registered by JIT'd code (C++ static destructors, atexit handlers) is kept here, so the
 *    host can run it when the program or the REPL session ends, and a unit's share of it when
 *    that unit is unloaded (as dlclose runs a library's), never after its code is gone;
 *  - exit: ends the running program, not the executor process (it unwinds to run_main);
 *  - __tls_get_addr (and on AArch64 the TLS descriptor resolver __orcbridge_tlsdesc, on
 *    Darwin the thread-local variable thunk _tlv_bootstrap): thread-local storage for JIT'd
 *    code, on top of libgcc's emutls (on Darwin, whose libSystem has none, this file's own);
 *  - wrapper functions (LLVM's wrapper ABI, SPS arguments) the host calls: run initializers,
 *    run main, run one REPL input and return its value, run exit-time finalizers;
 *  - the value-capture functions the REPL's rewritten code calls (the host's clang shim turns
 *    clang-repl's __clang_Interpreter_SetValue* calls into these): the last value is kept
 *    here and returned by run_input, so a REPL input and its value cost one call.
 *
 * Freestanding: no headers, so it compiles for targets without a sysroot. Names starting with
 * __orcbridge_libc_ are resolved by the host to the libc function without the prefix; that is
 * how this file reaches functions it overrides (exit).
 */

typedef __UINT8_TYPE__ u8;
typedef __UINT64_TYPE__ u64;
typedef __INT64_TYPE__ i64;
typedef __SIZE_TYPE__ size_t;
typedef __UINTPTR_TYPE__ uintptr_t;

/* ---- what we need from libc (declared by hand: no sysroot needed) ---- */
void *malloc(size_t);
void *realloc(void *, size_t);
void free(void *);
void *memcpy(void *, const void *, size_t);
size_t strlen(const char *);
int fflush(void *);
int __orcbridge_libc___cxa_atexit(void (*)(void *), void *, void *);
uintptr_t pthread_self(void);
int pthread_create(uintptr_t *thread, const void *attr, void *(*start)(void *), void *arg);
int pthread_join(uintptr_t thread, void **result);
/* pthread_mutex_t and pthread_cond_t are opaque here: 128 bytes covers glibc (40/48 bytes on
 * x86-64 and AArch64) and Darwin (64/48). */
typedef struct {
  _Alignas(16) char opaque[128];
} Mutex;
typedef struct {
  _Alignas(16) char opaque[128];
} Cond;
int pthread_mutex_init(Mutex *, const void *);
int pthread_mutex_lock(Mutex *);
int pthread_mutex_unlock(Mutex *);
int pthread_cond_init(Cond *, const void *);
int pthread_cond_wait(Cond *, Mutex *);
int pthread_cond_broadcast(Cond *);
void *calloc(size_t, size_t);
__attribute__((noreturn)) void __orcbridge_libc_exit(int);
/* The jmp_buf is opaque here: 512 bytes covers glibc x86-64 (200) and AArch64 (312) and Darwin. */
int _setjmp(void *) __attribute__((returns_twice));
__attribute__((noreturn)) void _longjmp(void *, int);

/* ---- the wrapper-function ABI (LLVM's CWrapperFunctionBuffer) ---- */
typedef struct {
  union {
    char *ValuePtr;
    char Value[8];
  } Data;
  size_t Size;
} WrapperBuffer;

static WrapperBuffer wb_bytes(const void *p, size_t n) {
  WrapperBuffer r;
  r.Size = n;
  if (n <= 8) {
    for (size_t i = 0; i < 8; i++) r.Data.Value[i] = i < n ? ((const char *)p)[i] : 0;
  } else {
    r.Data.ValuePtr = (char *)malloc(n);
    if (r.Data.ValuePtr) memcpy(r.Data.ValuePtr, p, n);
    else r.Size = 0;
  }
  return r;
}

static WrapperBuffer wb_error_success(void) {
  u8 zero = 0; /* SPS Error: 00 = success */
  return wb_bytes(&zero, 1);
}

/* SPS Error carrying `msg`: 01, then the message as an SPS string (u64 length, bytes). */
static WrapperBuffer wb_error(const char *msg) {
  u8 buf[256];
  u64 n = 0;
  while (msg[n] && n < sizeof buf - 9) n++;
  buf[0] = 1;
  for (int i = 0; i < 8; i++) buf[1 + i] = (u8)(n >> (8 * i));
  memcpy(buf + 9, msg, n);
  return wb_bytes(buf, 9 + n);
}

/* ---- SPS reading (little-endian; all supported targets are) ---- */
typedef struct {
  const u8 *p, *end;
  int bad;
} Reader;

static u64 rd_u64(Reader *r) {
  if (r->end - r->p < 8) {
    r->bad = 1;
    return 0;
  }
  u64 v;
  memcpy(&v, r->p, 8);
  r->p += 8;
  return v;
}

/* ---- SPS writing into a growing buffer ---- */
typedef struct {
  u8 *p;
  size_t len, cap;
} Buf;

static void buf_put(Buf *b, const void *src, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    while (cap < b->len + n) cap *= 2;
    u8 *p = (u8 *)realloc(b->p, cap);
    if (!p) return;
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, src, n);
  b->len += n;
}
static void buf_u8(Buf *b, u8 v) { buf_put(b, &v, 1); }
static void buf_u64(Buf *b, u64 v) { buf_put(b, &v, 8); }

static WrapperBuffer buf_finish(Buf *b) {
  WrapperBuffer r = wb_bytes(b->p, b->len);
  free(b->p);
  return r;
}

/* ---- DSO handle and exit-time registration ----
 * Handlers registered for this session's DSO handle are kept in a list of our own, newest
 * first, rather than in libc's, so that they can be run by code address when a unit is
 * unloaded; handlers for other DSOs (libraries loaded in the executor) go to libc. A spin lock
 * guards the list: JIT'd threads may register concurrently. */
void *__dso_handle = &__dso_handle;

typedef struct ExitFn {
  struct ExitFn *next;
  void (*fn)(void *);
  void *arg;
} ExitFn;

static ExitFn *exit_fns;
static int exit_lock;

static void lock(int *l) {
  while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)) {
  }
}
static void unlock(int *l) { __atomic_store_n(l, 0, __ATOMIC_RELEASE); }

int __cxa_atexit(void (*fn)(void *), void *arg, void *dso) {
  if (dso != &__dso_handle) return __orcbridge_libc___cxa_atexit(fn, arg, dso);
  ExitFn *e = (ExitFn *)malloc(sizeof *e);
  if (!e) return -1;
  e->fn = fn;
  e->arg = arg;
  lock(&exit_lock);
  e->next = exit_fns;
  exit_fns = e;
  unlock(&exit_lock);
  return 0;
}

int atexit(void (*fn)(void)) { return __cxa_atexit((void (*)(void *))fn, 0, &__dso_handle); }

static int in_range(const void *p, uintptr_t lo, uintptr_t hi) {
  return (uintptr_t)p >= lo && (uintptr_t)p < hi;
}

/* Takes the newest handler whose function or argument lies in [lo, hi) out of the list, or 0:
 * a static destructor's function may live in an earlier unit than its object. */
static ExitFn *take_exit_fn(uintptr_t lo, uintptr_t hi) {
  lock(&exit_lock);
  ExitFn **at = &exit_fns;
  while (*at && !in_range((const void *)(*at)->fn, lo, hi) && !in_range((*at)->arg, lo, hi)) at = &(*at)->next;
  ExitFn *e = *at;
  if (e) *at = e->next;
  unlock(&exit_lock);
  return e;
}

/* Runs (newest first) and forgets the handlers whose function or argument lies in [lo, hi),
 * including those they register while running. */
static void run_exit_fns(uintptr_t lo, uintptr_t hi) {
  ExitFn *e;
  while ((e = take_exit_fn(lo, hi))) {
    e->fn(e->arg);
    free(e);
  }
}

#ifndef __APPLE__
/* glibc's DSO-aware registrations (Darwin's libSystem has neither; there the process's own
 * at_quick_exit and pthread_atfork serve JIT'd code). */
int __cxa_at_quick_exit(void (*)(void), void *);
int at_quick_exit(void (*fn)(void)) { return __cxa_at_quick_exit(fn, &__dso_handle); }

int __register_atfork(void (*)(void), void (*)(void), void (*)(void), void *);
int pthread_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void)) {
  return __register_atfork(prepare, parent, child, &__dso_handle);
}
#endif

/* ---- thread-local storage: a TLS block per linked unit, kept by emutls ----
 * The host gives each unit with thread-locals an emutls control object
 * { size, align, 0, template } (libgcc's struct __emutls_object) and points each
 * general-dynamic GOT pair at { control object, offset in block }. */
typedef struct {
  void *emutls_object;
  u64 offset;
} TlsIndex;

#ifdef __APPLE__
/* Darwin's libSystem exports no emutls (compiler-rt's is a static archive): the same control
 * objects are served here with a pthread key per object, kept in its third word (key + 1),
 * each thread's block allocated on first use from the template and freed at thread exit. */
typedef struct {
  size_t size;
  size_t align;
  uintptr_t key_plus_one;
  const void *templ;
} EmutlsObject;
typedef unsigned long PthreadKey; /* Darwin's pthread_key_t */
int pthread_key_create(PthreadKey *, void (*)(void *));
void *pthread_getspecific(PthreadKey);
int pthread_setspecific(PthreadKey, const void *);
int posix_memalign(void **, size_t, size_t);
void *memset(void *, int, size_t);
static int emutls_lock; /* guards key creation only (once per object) */

void *__emutls_get_address(void *object) {
  EmutlsObject *o = (EmutlsObject *)object;
  uintptr_t k = __atomic_load_n(&o->key_plus_one, __ATOMIC_ACQUIRE);
  if (!k) {
    lock(&emutls_lock);
    k = o->key_plus_one;
    if (!k) {
      PthreadKey key = 0; /* glibc (the Linux stand-in) writes only 4 bytes */
      if (pthread_key_create(&key, free) == 0) {
        k = (uintptr_t)key + 1;
        __atomic_store_n(&o->key_plus_one, k, __ATOMIC_RELEASE);
      }
    }
    unlock(&emutls_lock);
    if (!k) return 0;
  }
  void *block = pthread_getspecific((PthreadKey)(k - 1));
  if (!block) {
    size_t align = o->align < sizeof(void *) ? sizeof(void *) : o->align;
    if (posix_memalign(&block, align, o->size ? o->size : 1) != 0) return 0;
    if (o->templ) memcpy(block, o->templ, o->size);
    else memset(block, 0, o->size);
    pthread_setspecific((PthreadKey)(k - 1), block);
  }
  return block;
}
#else
void *__emutls_get_address(void *);
#endif

void *__tls_get_addr(TlsIndex *ti) { return (char *)__emutls_get_address(ti->emutls_object) + ti->offset; }

#if defined(__aarch64__)
/* Both AArch64 TLS entry points below are called with x0 = a descriptor and must return with
 * every other register, the SIMD registers and the flags as they were: they save what a C call
 * may clobber, call __tls_get_addr on the descriptor's TlsIndex, and restore. */
#define AARCH64_SAVE_ALL \
  "  stp x29, x30, [sp, #-16]!\n" \
  "  mov x29, sp\n" \
  "  sub sp, sp, #672\n" /* x1-x18, nzcv (160 bytes), q0-q31 (512) */ \
  "  stp x1, x2, [sp, #0]\n" \
  "  stp x3, x4, [sp, #16]\n" \
  "  stp x5, x6, [sp, #32]\n" \
  "  stp x7, x8, [sp, #48]\n" \
  "  stp x9, x10, [sp, #64]\n" \
  "  stp x11, x12, [sp, #80]\n" \
  "  stp x13, x14, [sp, #96]\n" \
  "  stp x15, x16, [sp, #112]\n" \
  "  stp x17, x18, [sp, #128]\n" \
  "  mrs x1, nzcv\n" \
  "  str x1, [sp, #144]\n" \
  "  stp q0, q1, [sp, #160]\n" \
  "  stp q2, q3, [sp, #192]\n" \
  "  stp q4, q5, [sp, #224]\n" \
  "  stp q6, q7, [sp, #256]\n" \
  "  stp q8, q9, [sp, #288]\n" \
  "  stp q10, q11, [sp, #320]\n" \
  "  stp q12, q13, [sp, #352]\n" \
  "  stp q14, q15, [sp, #384]\n" \
  "  stp q16, q17, [sp, #416]\n" \
  "  stp q18, q19, [sp, #448]\n" \
  "  stp q20, q21, [sp, #480]\n" \
  "  stp q22, q23, [sp, #512]\n" \
  "  stp q24, q25, [sp, #544]\n" \
  "  stp q26, q27, [sp, #576]\n" \
  "  stp q28, q29, [sp, #608]\n" \
  "  stp q30, q31, [sp, #640]\n"
#define AARCH64_RESTORE_ALL_AND_RETURN \
  "  ldp q0, q1, [sp, #160]\n" \
  "  ldp q2, q3, [sp, #192]\n" \
  "  ldp q4, q5, [sp, #224]\n" \
  "  ldp q6, q7, [sp, #256]\n" \
  "  ldp q8, q9, [sp, #288]\n" \
  "  ldp q10, q11, [sp, #320]\n" \
  "  ldp q12, q13, [sp, #352]\n" \
  "  ldp q14, q15, [sp, #384]\n" \
  "  ldp q16, q17, [sp, #416]\n" \
  "  ldp q18, q19, [sp, #448]\n" \
  "  ldp q20, q21, [sp, #480]\n" \
  "  ldp q22, q23, [sp, #512]\n" \
  "  ldp q24, q25, [sp, #544]\n" \
  "  ldp q26, q27, [sp, #576]\n" \
  "  ldp q28, q29, [sp, #608]\n" \
  "  ldp q30, q31, [sp, #640]\n" \
  "  ldr x1, [sp, #144]\n" \
  "  msr nzcv, x1\n" \
  "  ldp x1, x2, [sp, #0]\n" \
  "  ldp x3, x4, [sp, #16]\n" \
  "  ldp x5, x6, [sp, #32]\n" \
  "  ldp x7, x8, [sp, #48]\n" \
  "  ldp x9, x10, [sp, #64]\n" \
  "  ldp x11, x12, [sp, #80]\n" \
  "  ldp x13, x14, [sp, #96]\n" \
  "  ldp x15, x16, [sp, #112]\n" \
  "  ldp x17, x18, [sp, #128]\n" \
  "  mov sp, x29\n" \
  "  ldp x29, x30, [sp], #16\n" \
  "  ret\n"

#if defined(__ELF__)
/* TLS descriptors, AArch64's default dialect for -fPIC (ELF for the Arm 64-bit Architecture,
 * "TLS descriptors"): x0 = the descriptor, the result is the variable's address minus
 * TPIDR_EL0. The host makes the descriptor { __orcbridge_tlsdesc, &TlsIndex }. */
__asm__(".text\n"
        ".globl __orcbridge_tlsdesc\n"
        ".type __orcbridge_tlsdesc, %function\n"
        ".p2align 2\n"
        "__orcbridge_tlsdesc:\n" AARCH64_SAVE_ALL
        "  ldr x0, [x0, #8]\n"
        "  bl __tls_get_addr\n"
        "  mrs x1, tpidr_el0\n"
        "  sub x0, x0, x1\n" AARCH64_RESTORE_ALL_AND_RETURN
        ".size __orcbridge_tlsdesc, .-__orcbridge_tlsdesc\n");
#else
/* Darwin thread-local variables (dyld's TLV ABI, <mach-o/loader.h> S_THREAD_LOCAL_VARIABLES):
 * code calls a descriptor's first word with x0 = the descriptor { thunk, key, offset } and
 * gets the variable's address. The host links every descriptor's thunk here and makes
 * { key, offset } a TlsIndex. */
__asm__(".text\n"
        ".globl __tlv_bootstrap\n"
        ".p2align 2\n"
        "__tlv_bootstrap:\n" AARCH64_SAVE_ALL
        "  add x0, x0, #8\n"
        "  bl ___tls_get_addr\n" AARCH64_RESTORE_ALL_AND_RETURN);
#endif
#elif defined(__x86_64__) && defined(__APPLE__)
/* Darwin thread-local variables on x86-64: code calls the descriptor's first word with
 * rdi = the descriptor and expects rax = the variable's address and every general register
 * but rax and rdi unchanged (LLVM's CSR_64_TLS_Darwin). */
__asm__(".text\n"
        ".globl __tlv_bootstrap\n"
        ".p2align 4\n"
        "__tlv_bootstrap:\n"
        "  pushq %rbp\n"
        "  movq %rsp, %rbp\n"
        "  pushq %rcx\n"
        "  pushq %rdx\n"
        "  pushq %rsi\n"
        "  pushq %r8\n"
        "  pushq %r9\n"
        "  pushq %r10\n"
        "  pushq %r11\n"
        "  subq $8, %rsp\n" /* 16-byte alignment for the call */
        "  addq $8, %rdi\n"
        "  callq ___tls_get_addr\n"
        "  addq $8, %rsp\n"
        "  popq %r11\n"
        "  popq %r10\n"
        "  popq %r9\n"
        "  popq %r8\n"
        "  popq %rsi\n"
        "  popq %rdx\n"
        "  popq %rcx\n"
        "  popq %rbp\n"
        "  retq\n");
#endif

/* ---- initializers and finalizers ---- */
typedef void (*Fn)(void);

typedef struct FiniList {
  struct FiniList *next;
  u64 count;
  u64 fns[];
} FiniList;

static FiniList *fini_lists; /* newest first */

static int run_fn_list(Reader *r, int record_fini) {
  u64 n = rd_u64(r);
  if (r->bad || n > (u64)(r->end - r->p) / 8) return 0;
  if (record_fini) {
    if (n == 0) return 1;
    FiniList *l = (FiniList *)malloc(sizeof(FiniList) + n * 8);
    if (!l) return 0;
    l->count = n;
    memcpy(l->fns, r->p, n * 8);
    r->p += n * 8;
    l->next = fini_lists;
    fini_lists = l;
    return 1;
  }
  for (u64 i = 0; i < n; i++) {
    Fn f = (Fn)(uintptr_t)rd_u64(r);
    f();
  }
  return 1;
}

static void run_finalizers(void) {
  run_exit_fns(0, (uintptr_t)-1);
  while (fini_lists) {
    FiniList *l = fini_lists;
    fini_lists = l->next;
    for (u64 i = l->count; i > 0; i--) ((Fn)(uintptr_t)l->fns[i - 1])();
    free(l);
  }
  fflush(0);
}

/* Wrapper: (u64 start, u64 end) -> Error. The host's dealloc action for a unit whose memory
 * spans [start, end): runs the exit-time work that lives there (handlers whose function or
 * object is in the range, newest first, then its recorded finalizers), as dlclose runs a
 * library's, so nothing touches the unit after it is gone. */
WrapperBuffer __orcbridge_unit_unloaded_wrapper(const char *data, size_t size) {
  Reader r = {(const u8 *)data, (const u8 *)data + size, 0};
  u64 lo = rd_u64(&r), hi = rd_u64(&r);
  if (!r.bad) {
    run_exit_fns((uintptr_t)lo, (uintptr_t)hi);
    for (FiniList **at = &fini_lists; *at;) {
      FiniList *l = *at;
      if (l->count && l->fns[0] >= lo && l->fns[0] < hi) {
        *at = l->next;
        for (u64 i = l->count; i > 0; i--) ((Fn)(uintptr_t)l->fns[i - 1])();
        free(l);
      } else {
        at = &l->next;
      }
    }
    fflush(0);
  }
  return wb_error_success();
}

/* Wrapper: (Sequence<(Addr entry, u64 value)>) -> Error. Points GOT entries of loaded units at
 * new definitions: the host's finalize action for a unit that defines names again (REPL
 * redefinition; calls go through stubs that jump via these entries), and its call when an
 * undone unit's names fall back to earlier definitions. Each store is one atomic word, so a
 * thread calling through an entry meanwhile gets the old or the new function, never a mix. */
WrapperBuffer __orcbridge_rebind_wrapper(const char *data, size_t size) {
  Reader r = {(const u8 *)data, (const u8 *)data + size, 0};
  u64 n = rd_u64(&r);
  for (u64 i = 0; i < n && !r.bad; i++) {
    u64 entry = rd_u64(&r), value = rd_u64(&r);
    if (!r.bad && entry) __atomic_store_n((u64 *)(uintptr_t)entry, value, __ATOMIC_RELEASE);
  }
  if (r.bad) return wb_error("orcbridge runtime: malformed rebind arguments");
  return wb_error_success();
}

/* Wrapper: (Sequence<Addr> initializers, Sequence<Addr> finalizers) -> Error.
 * Runs the initializers in order and records the finalizers for exit time. */
WrapperBuffer __orcbridge_run_initializers_wrapper(const char *data, size_t size) {
  Reader r = {(const u8 *)data, (const u8 *)data + size, 0};
  run_fn_list(&r, 0);
  run_fn_list(&r, 1);
  fflush(0);
  return wb_error_success();
}

static void end_input_thread(void);

/* Wrapper: () -> Error. Runs exit-time work as exit() does: the thread_local destructors of the
 * REPL's input thread (by ending it, if no input runs there), then atexit handlers and static
 * destructors registered with this session's DSO handle (newest first), then recorded
 * finalizers, then flushes stdio. */
WrapperBuffer __orcbridge_run_exit_wrapper(const char *data, size_t size) {
  (void)data;
  (void)size;
  end_input_thread();
  run_finalizers();
  return wb_error_success();
}

/* ---- running main with exit() support ---- */
static _Alignas(16) char exit_buf[512];
static uintptr_t exit_thread;
static int exit_armed;
static int exit_code;
static int exited_via_exit;

__attribute__((noreturn)) void exit(int code) {
  if (exit_armed && pthread_self() == exit_thread) {
    exit_code = code;
    _longjmp(exit_buf, 1);
  }
  run_finalizers();
  __orcbridge_libc_exit(code);
}

typedef int (*MainFn)(int, char **);

typedef struct {
  MainFn main;
  int argc;
  char **argv;
  int status;
  int signal;   /* a fault signal that ended main (orc-executor's guard caught it), else 0 */
  void *fault;  /* its address */
} MainCall;

/* orc-executor's crash guard (docs/protocol.md §11): calls fn(ctx) and returns 1 if a fault
 * signal interrupted it on this thread. Weak: other executors do not have it (it is 0). */
extern int __orcbridge_guarded_call(void (*fn)(void *), void *ctx, int *sig, void **addr)
    __attribute__((weak));

/* fn(ctx) under that guard where the executor has it, directly elsewhere; 1 if it faulted. */
static int run_guarded(void (*fn)(void *), void *ctx, int *sig, void **addr) {
  if (__orcbridge_guarded_call) return __orcbridge_guarded_call(fn, ctx, sig, addr);
  fn(ctx);
  return 0;
}

static __attribute__((noinline)) int call_main(MainFn m, int argc, char **argv) {
  exit_thread = pthread_self();
  exited_via_exit = 0;
  if (_setjmp(exit_buf) == 0) {
    exit_armed = 1;
    int rc = m(argc, argv);
    exit_armed = 0;
    return rc;
  }
  exit_armed = 0;
  exited_via_exit = 1;
  return exit_code;
}

/* main runs on a thread of its own, so that when it ends the thread's C++ thread_local
 * destructors run, as they do at a native exit (the executor's own threads may live on). */
static void run_main_call(void *arg) {
  MainCall *c = (MainCall *)arg;
  c->status = call_main(c->main, c->argc, c->argv);
}

static void *main_thread(void *arg) {
  MainCall *c = (MainCall *)arg;
  if (run_guarded(run_main_call, c, &c->signal, &c->fault)) exit_armed = 0;
  return 0;
}

/* Wrapper: (Addr main, Sequence<String> argv)
 *   -> SPS (int64 status, bool exited, int32 signal, uint64 fault address).
 * argv is passed as given (the host puts the program name first). A call to exit() from the
 * thread running main returns here with its status (exited = true) instead of ending the
 * process. Then, as after a native main, the exit-time work runs (atexit handlers, static
 * destructors, finalizers) and stdio is flushed. If main crashed and the executor's guard
 * caught it, signal is non-zero and no exit-time work runs (a native program would not run
 * it either). */
WrapperBuffer __orcbridge_run_main_wrapper(const char *data, size_t size) {
  Reader r = {(const u8 *)data, (const u8 *)data + size, 0};
  MainFn m = (MainFn)(uintptr_t)rd_u64(&r);
  u64 argc = rd_u64(&r);
  if (r.bad || argc > (u64)(r.end - r.p) / 8) return wb_bytes(0, 0);
  char **argv = (char **)malloc((argc + 1) * sizeof(char *));
  for (u64 i = 0; argv && i < argc; i++) {
    u64 len = rd_u64(&r);
    if (r.bad || len > (u64)(r.end - r.p)) {
      argv[i] = 0;
      argc = i;
      break;
    }
    argv[i] = (char *)malloc(len + 1);
    memcpy(argv[i], r.p, len);
    argv[i][len] = 0;
    r.p += len;
  }
  if (!argv) return wb_bytes(0, 0);
  argv[argc] = 0;
  MainCall call = {m, (int)argc, argv, 0, 0, 0};
  uintptr_t thread;
  if (pthread_create(&thread, 0, main_thread, &call) == 0) {
    pthread_join(thread, 0);
  } else {
    main_thread(&call);
  }
  int rc = call.status;
  for (u64 i = 0; i < argc; i++) free(argv[i]);
  free(argv);
  if (call.signal)
    fflush(0);
  else
    run_finalizers();
  Buf b = {0, 0, 0};
  buf_u64(&b, (u64)(i64)rc);
  buf_u8(&b, (u8)exited_via_exit);
  buf_put(&b, &call.signal, 4);
  buf_u64(&b, (u64)(uintptr_t)call.fault);
  return buf_finish(&b);
}

/* ---- REPL values ----
 * kind: 0 int (8 bytes), 1 double (8), 2 long double (16), 3 pointer (8), 4 C string (its
 * bytes, at most VALUE_MAX), 5 record (8: the address of the object, kept alive), 6 bytes (an
 * array copied by value, at most VALUE_MAX), 7 void. `ty` is the host's type handle, returned
 * untouched for the host to render. */
enum { V_INT, V_DOUBLE, V_LONG_DOUBLE, V_PTR, V_CSTR, V_RECORD, V_BYTES, V_VOID };
#define VALUE_MAX 65536

static struct {
  int set;
  u8 kind;
  u64 ty;
  Buf data;
} value;

static void value_begin(u8 kind, u64 ty) {
  value.set = 1;
  value.kind = kind;
  value.ty = ty;
  value.data.len = 0;
}

void __orcbridge_value_int(u64 ty, u64 bits) {
  value_begin(V_INT, ty);
  buf_u64(&value.data, bits);
}

void __orcbridge_value_double(u64 ty, double v) {
  value_begin(V_DOUBLE, ty);
  buf_put(&value.data, &v, 8);
}

void __orcbridge_value_long_double(u64 ty, long double v) {
  value_begin(V_LONG_DOUBLE, ty);
  u8 raw[16] = {0};
  memcpy(raw, &v, sizeof v < 16 ? sizeof v : 16);
  buf_put(&value.data, raw, 16);
}

void __orcbridge_value_ptr(u64 ty, const void *p) {
  value_begin(V_PTR, ty);
  buf_u64(&value.data, (u64)(uintptr_t)p);
}

void __orcbridge_value_cstr(u64 ty, const char *s) {
  if (!s) {
    __orcbridge_value_ptr(ty, s);
    return;
  }
  value_begin(V_CSTR, ty);
  size_t n = strlen(s);
  buf_put(&value.data, s, n < VALUE_MAX ? n : VALUE_MAX);
}

void *__orcbridge_value_alloc(u64 ty, u64 size) {
  void *p = malloc(size ? size : 1);
  value_begin(V_RECORD, ty);
  buf_u64(&value.data, (u64)(uintptr_t)p);
  return p;
}

void __orcbridge_value_bytes(u64 ty, const void *p, u64 size) {
  value_begin(V_BYTES, ty);
  buf_put(&value.data, p, size < VALUE_MAX ? size : VALUE_MAX);
}

void __orcbridge_value_void(u64 ty) { value_begin(V_VOID, ty); }

/* The REPL's value printer for class types (clang-shim/cxx/show_prelude.inc): replaces the
 * class object captured so far (its address: an lvalue, or the storage of a temporary) with
 * the text `format` makes of it. The type handle stays, for the host's header. */
void __orcbridge_value_format(const char *(*format)(const void *object)) {
  if (!value.set || (value.kind != V_PTR && value.kind != V_RECORD) || value.data.len != 8 || !format)
    return;
  u64 addr;
  memcpy(&addr, value.data.p, 8);
  const char *text = format((const void *)(uintptr_t)addr);
  if (text)
    __orcbridge_value_cstr(value.ty, text);
}

/* clang-repl's placement new for values of class type: construct at the storage given. */
struct __clang_Interpreter_NewTag {
  char unused;
};
void *_ZnwmPv26__clang_Interpreter_NewTag(size_t size, void *where, struct __clang_Interpreter_NewTag tag) {
  (void)size;
  (void)tag;
  return where;
}

/* ---- the REPL's input thread ----
 * Every REPL input runs on one thread the runtime owns for the session, whichever executor
 * thread delivers it: thread_local variables keep their values from input to input and
 * their destructors run when the session ends, as on the main thread of clang-repl or a
 * native program. (Executors run each call on a thread of their own, or of a pool.) If an
 * input is still running when the next arrives (the host stopped waiting for it after a
 * Ctrl-C), the next one gets a fresh thread, and the stuck one is left to itself. */
typedef struct InputThread {
  Mutex lock;
  Cond changed;
  Reader work;   /* the initializer and finalizer lists of the input to run */
  int has_work;  /* work waits to be taken */
  int running;   /* an input runs (from delivery until its caller took the result) */
  int done;      /* the input ran */
  int quit;      /* end the thread */
  int signal;    /* the fault that ended the input (orc-executor's guard caught it), or 0 */
  void *fault;   /* its address */
  uintptr_t thread;
} InputThread;

static InputThread *input_thread;
static int input_lock; /* guards input_thread */

static void run_input_work(void *arg) {
  InputThread *t = (InputThread *)arg;
  value.set = 0;
  run_fn_list(&t->work, 0);
  run_fn_list(&t->work, 1);
}

static void *input_loop(void *arg) {
  InputThread *t = (InputThread *)arg;
  pthread_mutex_lock(&t->lock);
  for (;;) {
    while (!t->has_work && !t->quit) pthread_cond_wait(&t->changed, &t->lock);
    if (!t->has_work) break;
    t->has_work = 0;
    pthread_mutex_unlock(&t->lock);
    int sig = 0;
    void *fault = 0;
    run_guarded(run_input_work, t, &sig, &fault);
    fflush(0);
    pthread_mutex_lock(&t->lock);
    t->signal = sig;
    t->fault = fault;
    t->done = 1;
    pthread_cond_broadcast(&t->changed);
  }
  pthread_mutex_unlock(&t->lock);
  return 0;
}

/* The input thread, started if there is none or the current one is busy; 0 if no thread can
 * be started (the input then runs on the caller's thread). Marks it running. */
static InputThread *claim_input_thread(void) {
  lock(&input_lock);
  InputThread *t = input_thread;
  if (t) {
    pthread_mutex_lock(&t->lock);
    int busy = t->running;
    if (!busy) t->running = 1;
    pthread_mutex_unlock(&t->lock);
    if (busy) t = 0; /* abandoned: it stays as it is */
  }
  if (!t && (t = (InputThread *)calloc(1, sizeof *t))) {
    pthread_mutex_init(&t->lock, 0);
    pthread_cond_init(&t->changed, 0);
    t->running = 1;
    if (pthread_create(&t->thread, 0, input_loop, t) == 0) {
      input_thread = t;
    } else {
      free(t);
      t = 0;
    }
  }
  unlock(&input_lock);
  return t;
}

/* Ends the input thread, if it is idle, so that its thread_local destructors run. */
static void end_input_thread(void) {
  lock(&input_lock);
  InputThread *t = input_thread;
  int idle = 0;
  if (t) {
    pthread_mutex_lock(&t->lock);
    idle = !t->running;
    if (idle) {
      t->quit = 1;
      pthread_cond_broadcast(&t->changed);
    }
    pthread_mutex_unlock(&t->lock);
  }
  if (idle) input_thread = 0;
  unlock(&input_lock);
  if (idle) pthread_join(t->thread, 0);
}

/* Wrapper: (Sequence<Addr> initializers, Sequence<Addr> finalizers)
 *   -> SPS (bool has_value, u8 kind, u64 type, Sequence<u8> data, i32 signal, u64 fault).
 * Runs one REPL input's initializers (its top-level statements) on the input thread and
 * returns the value it produced, if any. If orc-executor's guard caught a fault in it, signal
 * (in Linux's numbering) and fault are set and there is no value. */
WrapperBuffer __orcbridge_run_input_wrapper(const char *data, size_t size) {
  Reader r = {(const u8 *)data, (const u8 *)data + size, 0};
  InputThread *t = claim_input_thread();
  int sig = 0;
  void *fault = 0;
  if (t) {
    pthread_mutex_lock(&t->lock);
    t->work = r;
    t->done = 0;
    t->has_work = 1;
    pthread_cond_broadcast(&t->changed);
    while (!t->done) pthread_cond_wait(&t->changed, &t->lock);
    sig = t->signal;
    fault = t->fault;
    t->running = 0;
    pthread_mutex_unlock(&t->lock);
  } else {
    InputThread inline_run;
    inline_run.work = r;
    run_guarded(run_input_work, &inline_run, &sig, &fault);
    fflush(0);
  }
  int has = value.set && !sig;
  Buf b = {0, 0, 0};
  buf_u8(&b, (u8)has);
  buf_u8(&b, has ? value.kind : 0);
  buf_u64(&b, has ? value.ty : 0);
  buf_u64(&b, has ? value.data.len : 0);
  if (has) buf_put(&b, value.data.p, value.data.len);
  buf_put(&b, &sig, 4);
  buf_u64(&b, (u64)(uintptr_t)fault);
  return buf_finish(&b);
}
