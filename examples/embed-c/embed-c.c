/*
 * embed-c: a C program that embeds orcbridge's ORC executor through its C API
 * (executor/capi/include/orc_executor.h) and publishes two of its own functions to JIT'd
 * code, which calls them by name although this program exports no symbols dynamically.
 *
 *   make -C examples/embed-c
 *   examples/embed-c/embed-c 20000 &        # prints "embed-c: listening on port 20000"
 *   repl --oop-executor-connect=127.0.0.1:20000 -x c -e 'int app_add(int, int);' -e 'app_add(40, 2)'
 *
 * Usage: embed-c [PORT]   (default 0: a free port). Serves on 127.0.0.1 until SIGINT or
 * SIGTERM, then stops the listener and exits 0.
 */
#include <orc_executor.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

/* The app's own functions, published to JIT'd code. */
int app_add(int a, int b) { return a + b; }

static int calls;
int app_count(void) { return ++calls; }

static void log_to_stderr(void *ctx, int level, const char *message) {
  static const char *names[] = {"?", "error", "warning", "info", "debug", "trace"};
  (void)ctx;
  fprintf(stderr, "embed-c: %s: %s\n", names[level >= 1 && level <= 5 ? level : 0], message);
}

static int fail(const char *what) {
  fprintf(stderr, "embed-c: %s: %s\n", what, orcx_last_error());
  return 1;
}

int main(int argc, char **argv) {
  const char *port = argc > 1 ? argv[1] : "0";
  char host_port[64];
  snprintf(host_port, sizeof host_port, "127.0.0.1:%s", port);

  /* Wait for SIGINT/SIGTERM with sigwait: block them before the executor starts threads. */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);

  orcx_options opts;
  orcx_options_init(&opts);
  opts.log = log_to_stderr;
  opts.log_level = 2; /* warnings and errors */
  orcx_executor *ex = orcx_executor_new(&opts);
  if (!ex) return fail("cannot create the executor");
  if (orcx_executor_add_symbol(ex, "app_add", (const void *)app_add) != 0 ||
      orcx_executor_add_symbol(ex, "app_count", (const void *)app_count) != 0)
    return fail("cannot publish a symbol");

  uint16_t bound = 0;
  orcx_listener *listener = orcx_executor_listen(ex, host_port, &bound);
  if (!listener) return fail("cannot listen");
  printf("embed-c: listening on port %u\n", (unsigned)bound);
  fflush(stdout);

  int sig = 0;
  sigwait(&stop, &sig);
  int rc = orcx_listener_shutdown(listener);
  orcx_executor_free(ex);
  printf("embed-c: stopped (%d calls of app_count)\n", calls);
  return rc == 0 ? 0 : fail("the listener had failed");
}
