/*
 * Crash guard for calls into JIT'd code (the Rust side and the rules are in src/guard.rs).
 *
 * A guarded call records a sigjmp_buf in a thread-local chain; the handler for the fault
 * signals jumps back to the innermost guard of the faulting thread, so a crash in JIT'd code
 * becomes an error for that one call instead of the end of the process. A C++ exception that
 * JIT'd code does not catch ends the call the same way (it would otherwise unwind into the
 * executor). Signals raised outside a guarded call go to whatever handler was installed
 * before ours, or get their default action. This is C++ because sigsetjmp returns twice,
 * which Rust cannot express, and to catch foreign exceptions.
 */
#ifndef __APPLE__
#include <csetjmp>
#include <csignal>
#include <cstdlib>
#include <cstring>
#else
/*
 * Darwin, declared here rather than included, so that the guard compiles for Apple targets on
 * machines without an Apple SDK (scripts/check-apple.sh; executor/build.rs). Names, values and
 * layouts are those of the macOS/iOS SDK headers named on each item (the same on arm64 and
 * x86_64 unless said). Only what this file uses.
 */
extern "C" {
typedef __SIZE_TYPE__ size_t;
typedef unsigned int sigset_t; /* <sys/_types/_sigset_t.h>: __darwin_sigset_t, a __uint32_t */

/* <sys/signal.h> */
enum {
  SIGILL = 4, SIGTRAP = 5, SIGABRT = 6, SIGFPE = 8, SIGBUS = 10, SIGSEGV = 11,
  SA_ONSTACK = 0x0001, SA_SIGINFO = 0x0040,
  SS_DISABLE = 0x0004,
  SI_USER = 0x10001, /* the first si_code of a sent signal; SI_QUEUE .. SI_MESGQ follow */
};
union sigval {
  int sival_int;
  void *sival_ptr;
};
typedef struct __siginfo {
  int si_signo;
  int si_errno;
  int si_code;
  int si_pid;          /* pid_t */
  unsigned int si_uid; /* uid_t */
  int si_status;
  void *si_addr;
  union sigval si_value;
  long si_band;
  unsigned long __pad[7];
} siginfo_t;
/* The SDK's `struct sigaction` holds `union __sigaction_u __sigaction_u` and reaches its
 * members through the macros sa_handler and sa_sigaction; an anonymous union has the same
 * layout and the same member names. */
struct sigaction {
  union {
    void (*sa_handler)(int);
    void (*sa_sigaction)(int, siginfo_t *, void *);
  };
  sigset_t sa_mask;
  int sa_flags;
};
#define SIG_DFL ((void (*)(int))0)
#define SIG_IGN ((void (*)(int))1)
/* <sys/_types/_sigaltstack.h>: struct __darwin_sigaltstack */
typedef struct {
  void *ss_sp;
  size_t ss_size;
  int ss_flags;
} stack_t;
int sigaction(int, const struct sigaction *, struct sigaction *);
int sigemptyset(sigset_t *);
int sigaltstack(const stack_t *, stack_t *);
int raise(int);

/* <setjmp.h>, with _JBLEN from <arm/_setjmp.h> and <i386/_setjmp.h> */
#if defined(__aarch64__)
typedef int sigjmp_buf[(14 + 8 + 2) * 2 + 1];
#elif defined(__x86_64__)
typedef int sigjmp_buf[(9 * 2) + 3 + 16 + 1];
#else
#error "the crash guard knows Darwin's sigjmp_buf for arm64 and x86_64 only"
#endif
int sigsetjmp(sigjmp_buf, int) __attribute__((returns_twice));
void siglongjmp(sigjmp_buf, int) __attribute__((noreturn));

/* <stdlib.h>, <string.h> */
void *malloc(size_t);
void free(void *);
void *memset(void *, int, size_t);
}
namespace std {
using ::free;
using ::malloc;
using ::memset;
} // namespace std
#endif

namespace {

struct Guard {
  sigjmp_buf env;
  Guard *outer;
  volatile int sig;
  void *volatile addr;
};

thread_local Guard *current;

const int guarded_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGABRT};
constexpr unsigned NGUARDED = sizeof guarded_signals / sizeof guarded_signals[0];

// The dispositions before ours, written once before our handlers are installed.
struct sigaction previous[NGUARDED];

// Size of the alternate signal stack a guarded call sets up on a thread that has none (the
// handler runs on it, so that a stack overflow can be caught).
constexpr size_t ALT_STACK = 64 * 1024;

// Whether the kernel raised the signal for a fault of the thread (si_addr is then the fault
// address, and the fault recurs when the instruction is retried), rather than someone sending
// it (kill, raise, abort, sigqueue, a timer). Fault codes (SEGV_MAPERR, BUS_ADRALN, ILL_*,
// FPE_*, TRAP_*, ...) are positive on both systems, and so is Linux's SI_KERNEL (0x80); Linux's
// codes for sent signals are 0 (SI_USER) or negative (SI_QUEUE, SI_TKILL, ...). Darwin's are
// positive too: its <sys/signal.h> has SI_USER 0x10001, SI_QUEUE 0x10002, SI_TIMER 0x10003,
// SI_ASYNCIO 0x10004 and SI_MESGQ 0x10005, above every fault code.
bool is_fault(const siginfo_t *info) {
#ifdef __APPLE__
  return info && info->si_code > 0 && info->si_code < SI_USER;
#else
  return info && info->si_code > 0;
#endif
}

void on_signal(int sig, siginfo_t *info, void *uctx) {
  if (Guard *g = current) {
    g->sig = sig;
    // si_addr is the fault address only for signals the kernel raised for a fault.
    g->addr = is_fault(info) ? info->si_addr : nullptr;
    current = g->outer;
    siglongjmp(g->env, 1);
  }
  for (unsigned i = 0; i < NGUARDED; i++) {
    if (guarded_signals[i] != sig) continue;
    const struct sigaction *old = &previous[i];
    if (old->sa_flags & SA_SIGINFO) {
      if (old->sa_sigaction) old->sa_sigaction(sig, info, uctx);
      return;
    }
    bool fault = is_fault(info);
    if (old->sa_handler == SIG_IGN && !fault) return;
    if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
      old->sa_handler(sig);
      return;
    }
    // Default action (also for an ignored fault, which would recur forever): restore it. A
    // fault recurs when the instruction is retried; a signal that was sent (kill, raise,
    // abort) has to be sent again.
    struct sigaction dfl;
    std::memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, nullptr);
    if (!fault) raise(sig);
    return;
  }
}

} // namespace

extern "C" {

// Installs the handler for every guarded signal; call once. Returns 0, or -1 if sigaction
// failed (the guard then catches only the signals installed before the failure).
int orcx_install_crash_handlers(void) {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  // SA_ONSTACK: a stack overflow is handled on the thread's alternate signal stack.
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  for (unsigned i = 0; i < NGUARDED; i++)
    if (sigaction(guarded_signals[i], &sa, &previous[i]) != 0) return -1;
  return 0;
}

// Calls fn(ctx). Returns 0 when it returns; 1 when a guarded signal interrupted it on this
// thread, with the signal and its fault address (0 for a sent signal) in *sig and *addr; 2
// when it threw a C++ exception it did not catch (*sig = SIGABRT, as std::terminate would
// raise). The signal mask is restored on the way out.
int orcx_guarded_call(void (*fn)(void *), void *ctx, int *sig, void **addr) {
  // A thread without an alternate signal stack (one JIT'd code started) gets one for the
  // call, or a stack overflow could not be handled.
  void *alt = nullptr;
  stack_t old_alt;
  if (sigaltstack(nullptr, &old_alt) == 0 && (old_alt.ss_flags & SS_DISABLE) &&
      (alt = std::malloc(ALT_STACK))) {
    stack_t ss;
    ss.ss_sp = alt;
    ss.ss_size = ALT_STACK;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, nullptr) != 0) {
      std::free(alt);
      alt = nullptr;
    }
  }
  Guard g;
  g.outer = current;
  g.sig = 0;
  g.addr = nullptr;
  int result = 0;
  if (sigsetjmp(g.env, 1)) {
    *sig = g.sig;
    *addr = g.addr;
    result = 1;
  } else {
    current = &g;
    try {
      fn(ctx);
    } catch (...) {
      *sig = SIGABRT;
      *addr = nullptr;
      result = 2;
    }
    current = g.outer;
  }
  if (alt) {
    stack_t off;
    std::memset(&off, 0, sizeof off);
    off.ss_flags = SS_DISABLE;
    sigaltstack(&off, nullptr);
    std::free(alt);
  }
  return result;
}

} // extern "C"
