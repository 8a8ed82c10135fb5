/*
 * Crash guard for calls into JIT'd code (the Rust side and the rules are in src/guard.rs).
 *
 * A guarded call records a sigjmp_buf in a thread-local chain; the handler for the fault
 * signals jumps back to the innermost guard of the faulting thread, so a crash in JIT'd code
 * becomes an error for that one call instead of the end of the process. Signals raised
 * outside a guarded call go to whatever handler was installed before ours, or get their
 * default action. This is C because sigsetjmp returns twice, which Rust cannot express.
 */
#include <setjmp.h>
#include <signal.h>
#include <string.h>

struct orcx_guard {
  sigjmp_buf env;
  struct orcx_guard *outer;
  int sig;
  void *addr;
};

static __thread struct orcx_guard *current;

static const int guarded_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGABRT};
#define NGUARDED (sizeof guarded_signals / sizeof guarded_signals[0])

/* The dispositions before ours, written once before our handlers are installed. */
static struct sigaction previous[NGUARDED];

static void on_signal(int sig, siginfo_t *info, void *uctx) {
  struct orcx_guard *g = current;
  if (g) {
    g->sig = sig;
    g->addr = info ? info->si_addr : 0;
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
    if (old->sa_handler == SIG_IGN) return;
    if (old->sa_handler != SIG_DFL) {
      old->sa_handler(sig);
      return;
    }
    /* Default action: restore it. A fault recurs when the instruction is retried; a signal
     * that was sent (kill, raise, abort) has to be sent again. */
    sigaction(sig, old, 0);
    if (!info || info->si_code <= 0) raise(sig);
    return;
  }
}

/* Installs the handler for every guarded signal; call once. Returns 0, or -1 if sigaction
 * failed (the guard then catches only the signals installed before the failure). */
int orcx_install_crash_handlers(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  /* SA_ONSTACK: a stack overflow is handled on the thread's alternate signal stack (Rust's
   * std gives each thread it starts one). */
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  for (unsigned i = 0; i < NGUARDED; i++)
    if (sigaction(guarded_signals[i], &sa, &previous[i]) != 0) return -1;
  return 0;
}

/* Calls fn(ctx). Returns 0 when it returns, or 1 when a guarded signal interrupted it on this
 * thread, with the signal and its fault address in *sig and *addr. The signal mask is
 * restored on the way out. */
int orcx_guarded_call(void (*fn)(void *), void *ctx, int *sig, void **addr) {
  struct orcx_guard g;
  g.outer = current;
  g.sig = 0;
  g.addr = 0;
  if (sigsetjmp(g.env, 1)) {
    *sig = g.sig;
    *addr = g.addr;
    return 1;
  }
  current = &g;
  fn(ctx);
  current = g.outer;
  return 0;
}
