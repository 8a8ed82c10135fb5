/* Exercises every function of orc_executor.h against the library; run by tests/c_api.rs.
   Prints one line per failed check and exits non-zero if any failed. */
#include "orc_executor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int failures;
#define CHECK(cond)                                                                            \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      const char *e = orcx_last_error();                                                       \
      printf("%s:%d: failed: %s (last error: %s)\n", __FILE__, __LINE__, #cond, e ? e : "none"); \
      failures++;                                                                              \
    }                                                                                          \
  } while (0)

static atomic_int log_lines;
static void count_log(void *ctx, int level, const char *message) {
  CHECK(ctx == &log_lines);
  CHECK(level >= 1 && level <= 5);
  CHECK(message != NULL && message[0] != '\0');
  atomic_fetch_add(&log_lines, 1);
}

static void sleep_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&t, &t) != 0 && errno == EINTR) {
  }
}

/* A slow log callback: the first call after it is armed (1) takes 300 ms (2 while it runs,
   3 once it returned), as a callback writing to a slow sink would. */
static atomic_int slow_state;
static void slow_log(void *ctx, int level, const char *message) {
  (void)ctx;
  (void)level;
  (void)message;
  int armed = 1;
  if (atomic_compare_exchange_strong(&slow_state, &armed, 2)) {
    sleep_ms(300);
    atomic_store(&slow_state, 3);
  }
}

static int connect_loopback(uint16_t port) {
  int c = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval timeout = {5, 0};
  setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (connect(c, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(c);
    return -1;
  }
  return c;
}

static int app_add(int a, int b) { return a + b; }

/* Whether fd is closed (the serve functions own their descriptors and close them on every
   return). Nothing else opens descriptors meanwhile: no listener runs yet. */
static int is_closed(int fd) { return fcntl(fd, F_GETFD) == -1 && errno == EBADF; }

/* Reads the 32-byte frame header the executor sends first; returns its opcode (Setup = 0). */
static long first_opcode(int fd) {
  unsigned char hdr[32];
  size_t got = 0;
  while (got < sizeof hdr) {
    ssize_t n = read(fd, hdr + got, sizeof hdr - got);
    if (n <= 0) return -1;
    got += (size_t)n;
  }
  uint64_t opcode;
  memcpy(&opcode, hdr + 8, 8);
  return (long)opcode;
}

int main(void) {
  CHECK(orcx_version() != NULL && strlen(orcx_version()) > 0);

  orcx_options opts;
  memset(&opts, 0xff, sizeof opts);
  orcx_options_init(&opts);
  CHECK(opts.struct_size == sizeof(orcx_options));
  CHECK(opts.idle_close_ms == 0 && opts.max_frame_size == 0 && opts.flags == 0 && opts.log == NULL);

  /* Bad options: NULL and a message. */
  orcx_options bad = opts;
  bad.struct_size = 4;
  CHECK(orcx_executor_new(&bad) == NULL && orcx_last_error() != NULL);
  bad = opts;
  bad.flags = 0x80;
  CHECK(orcx_executor_new(&bad) == NULL && strstr(orcx_last_error(), "flags") != NULL);
  bad = opts;
  bad.idle_close_ms = -2;
  CHECK(orcx_executor_new(&bad) == NULL);

  opts.flags = ORCX_NO_CRASH_GUARD | ORCX_NO_GDB_JIT | ORCX_NO_STDIO_FORWARDING;
  opts.idle_close_ms = -1;
  opts.log = count_log;
  opts.log_ctx = &log_lines;
  opts.log_level = 5;
  orcx_executor *ex = orcx_executor_new(&opts);
  CHECK(ex != NULL);
  if (!ex) return 1;
  orcx_executor_free(orcx_executor_new(NULL)); /* the defaults; freed at once */

  CHECK(orcx_executor_add_symbol(ex, "app_add", (const void *)app_add) == 0);
  CHECK(orcx_executor_add_symbol(ex, "app_add", (const void *)app_add) == -1);
  CHECK(strstr(orcx_last_error(), "already") != NULL);
  CHECK(orcx_executor_add_symbol(ex, NULL, (const void *)app_add) == -1);
  CHECK(orcx_executor_add_symbol(ex, "app_null", NULL) == -1);

  /* Pipes: the executor writes Setup, then sees end of file: a clean end. */
  int to_ex[2], from_ex[2];
  CHECK(pipe(to_ex) == 0 && pipe(from_ex) == 0);
  close(to_ex[1]);
  CHECK(orcx_executor_serve_fds(ex, to_ex[0], from_ex[1]) == 0);
  CHECK(is_closed(to_ex[0]) && is_closed(from_ex[1]));
  CHECK(first_opcode(from_ex[0]) == 0);
  close(from_ex[0]);

  /* Failures close the descriptors too. */
  int p[2];
  CHECK(pipe(p) == 0);
  CHECK(orcx_executor_serve_fds(ex, -1, p[1]) == -1);
  CHECK(is_closed(p[1]));
  close(p[0]);
  CHECK(pipe(p) == 0);
  CHECK(orcx_executor_serve_fds(NULL, p[0], p[1]) == -1);
  CHECK(is_closed(p[0]) && is_closed(p[1]));
  CHECK(pipe(p) == 0);
  CHECK(orcx_executor_serve_socket(ex, p[0]) == -1 && strstr(orcx_last_error(), "not a socket") != NULL);
  CHECK(is_closed(p[0]));
  close(p[1]);
  int dgram = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(dgram >= 0);
  CHECK(orcx_executor_serve_socket(ex, dgram) == -1);
  CHECK(is_closed(dgram));
  int pair[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
  CHECK(orcx_executor_serve_socket(NULL, pair[0]) == -1);
  CHECK(is_closed(pair[0]));
  close(pair[1]);

  /* A Unix socket pair, the controller's end already closed. */
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  shutdown(sv[1], SHUT_WR);
  CHECK(orcx_executor_serve_socket(ex, sv[0]) == 0);
  CHECK(is_closed(sv[0]));
  CHECK(first_opcode(sv[1]) == 0);
  close(sv[1]);
  CHECK(orcx_executor_serve_socket(ex, from_ex[1] + 100) == -1);

  /* A listener on loopback: a controller gets Setup; shutdown ends its session. */
  uint16_t port = 0;
  orcx_listener *l = orcx_executor_listen(ex, "127.0.0.1:0", &port);
  CHECK(l != NULL && port != 0);
  int c = connect_loopback(port); /* reads time out after 5 s */
  CHECK(c >= 0);
  CHECK(first_opcode(c) == 0);
  CHECK(orcx_listener_shutdown(l) == 0);
  /* The session was ended: the rest of Setup, then end of file (not the 5 s timeout). */
  char rest[4096];
  ssize_t n;
  while ((n = read(c, rest, sizeof rest)) > 0) {
  }
  CHECK(n == 0 || errno == ECONNRESET);
  close(c);
  CHECK(orcx_listener_shutdown(NULL) == -1);
  CHECK(orcx_executor_listen(ex, "no port here", NULL) == NULL && orcx_last_error() != NULL);

  CHECK(atomic_load(&log_lines) > 0);
  orcx_executor_free(ex);
  orcx_executor_free(NULL);

  /* orcx_executor_free waits for a call of the log callback in progress on a session thread:
     after it returns, the app may free log_ctx. */
  orcx_options slow_opts;
  orcx_options_init(&slow_opts);
  slow_opts.flags = ORCX_NO_CRASH_GUARD | ORCX_NO_GDB_JIT | ORCX_NO_STDIO_FORWARDING;
  slow_opts.idle_close_ms = -1;
  slow_opts.log = slow_log;
  orcx_executor *slow = orcx_executor_new(&slow_opts);
  CHECK(slow != NULL);
  l = slow ? orcx_executor_listen(slow, "127.0.0.1:0", &port) : NULL;
  CHECK(l != NULL);
  if (l) {
    atomic_store(&slow_state, 1);
    c = connect_loopback(port); /* the session logs that the controller connected */
    CHECK(c >= 0);
    for (int i = 0; i < 5000 && atomic_load(&slow_state) != 2; i++) sleep_ms(1);
    CHECK(atomic_load(&slow_state) == 2);
    orcx_executor_free(slow);
    CHECK(atomic_load(&slow_state) == 3);
    CHECK(c >= 0 && first_opcode(c) == 0);
    CHECK(orcx_listener_shutdown(l) == 0);
    if (c >= 0) close(c);
  }
  if (failures == 0) printf("all checks passed\n");
  return failures == 0 ? 0 : 1;
}
