/*
 * orc_executor.h: the C API of orcbridge's ORC executor (package orc-executor-capi, library
 * liborcx.a / liborcx.so).
 *
 * An app that embeds the executor lets JIT controllers compatible with LLVM 22.1
 * (llvm-jitlink -oop-executor-connect, clang-repl, orcbridge's repl) link and run code inside
 * it, and publishes its own functions and data to that code by name.
 *
 *     orcx_options opts;
 *     orcx_options_init(&opts);
 *     orcx_executor *ex = orcx_executor_new(&opts);
 *     orcx_executor_add_symbol(ex, "app_add", (const void *)app_add);
 *     uint16_t port;
 *     orcx_listener *l = orcx_executor_listen(ex, "127.0.0.1:0", &port);
 *     ... the app runs; controllers connect to port ...
 *     orcx_listener_shutdown(l);
 *     orcx_executor_free(ex);
 *
 * Linking the static library (Linux): cc app.c liborcx.a -lstdc++ -lpthread -ldl -lm
 * (the executor's crash guard is C++). Apple platforms: -lc++.
 *
 * Conventions: every symbol starts with orcx_. Functions returning int return 0 on success
 * and -1 on failure; functions returning a pointer return NULL on failure. After a failure,
 * orcx_last_error() says why. No function lets a Rust panic or C++ exception escape.
 *
 * Whoever can connect to a listening executor can run code in the app: listen on loopback
 * (127.0.0.1) unless the network is trusted.
 */
#ifndef ORC_EXECUTOR_H
#define ORC_EXECUTOR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An executor: options and published symbols. Create with orcx_executor_new. */
typedef struct orcx_executor orcx_executor;

/* A listener serving controllers on a background thread. Create with orcx_executor_listen. */
typedef struct orcx_listener orcx_listener;

/*
 * A log callback: receives the executor's log events. level: 1 error, 2 warning, 3 info,
 * 4 debug, 5 trace. message is NUL-terminated and valid only during the call. Called from
 * the executor's threads, possibly several at once; it must not block for long.
 *
 * orcx_executor_free (and orcx_executor_new, which may take the callback over) waits for
 * calls of the callback in progress, so once it returns the callback is not running and
 * will not be called again for that executor: log_ctx may be freed. Hence the callback must
 * not call orcx_executor_new or orcx_executor_free (it would deadlock).
 *
 * With stdio forwarding on (no ORCX_NO_STDIO_FORWARDING) and log_level 4 (debug) or 5, the
 * callback must not write to descriptors 1 or 2 (stdout, stderr, e.g. with printf or
 * fprintf(stderr, ...)): once a controller asks for the process's stdio, what is written
 * there is forwarded to it, so the executor's per-frame debug lines would appear in the
 * REPL. At levels 1 to 3, or without forwarding, writing there is harmless.
 */
typedef void (*orcx_log_fn)(void *ctx, int level, const char *message);

/* orcx_options.flags */
/*
 * Calls into JIT'd code run without the crash guard. With the guard (the default), the
 * first call installs process-wide handlers for SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP and
 * SIGABRT that turn a fault in JIT'd code into a failed call (the app goes on), and pass
 * signals elsewhere to the handlers installed before them. Without it, no handler is
 * installed, and a fault in JIT'd code is a fault of the app: the process dies, or the app's
 * own crash reporter sees it.
 */
#define ORCX_NO_CRASH_GUARD 1u
/*
 * JIT'd code is not registered with the GDB JIT interface (a process-wide list debuggers
 * read): debuggers do not see it.
 */
#define ORCX_NO_GDB_JIT 2u
/*
 * The process's stdio is never forwarded to controllers. By default a controller that asks
 * (orcbridge's repl over TCP) gets what the process writes to descriptors 1 and 2 from then
 * on (the first one makes them pipes; the original descriptors, e.g. the app's console, keep
 * a copy) and may feed descriptor 0. See docs/protocol.md, "orcbridge extensions".
 */
#define ORCX_NO_STDIO_FORWARDING 4u

typedef struct orcx_options {
  uint32_t struct_size;    /* sizeof(orcx_options): lets the struct grow; set by orcx_options_init */
  int64_t idle_close_ms;   /* ms a TCP session may sit idle after its controller released all
                              its memory before the executor closes it (LLVM 22.1 controllers
                              never close TCP sessions); -1: never; 0: default (250 ms) */
  uint64_t max_frame_size; /* largest protocol frame accepted or sent, bytes; 0: default (8 MiB) */
  uint32_t flags;          /* ORCX_NO_CRASH_GUARD | ORCX_NO_GDB_JIT | ORCX_NO_STDIO_FORWARDING */
  orcx_log_fn log;         /* NULL: no logging. The callback is process-wide: the most recent
                              executor created with one owns it until freed. It is installed as
                              the process's Rust `tracing` subscriber, unless the process already
                              has one (then events go there and log is never called). */
  void *log_ctx;           /* first argument of log; must stay valid until orcx_executor_free
                              of this executor returns (or another executor takes log over) */
  int32_t log_level;       /* most detailed level passed to log, 1..5; 0: default (3, info) */
} orcx_options;

/* Fills *opts with the defaults, struct_size included. */
void orcx_options_init(orcx_options *opts);

/*
 * Creates an executor with *opts (NULL: the defaults). Returns NULL on error (a struct_size
 * too small, unknown flags, a negative idle_close_ms other than -1, a log_level out of range):
 * orcx_last_error().
 *
 * Symbols are added with orcx_executor_add_symbol; each orcx_executor_serve_* and
 * orcx_executor_listen call serves with the symbols added before it (a running listener does
 * not see symbols added later).
 */
orcx_executor *orcx_executor_new(const orcx_options *opts);

/*
 * Publishes addr (a function or data of the app) under name (a C name, without Darwin's
 * leading underscore): as a bootstrap symbol in the Setup message, and as the answer when a
 * controller looks name up in the executor's process (llvm-jitlink and orcbridge's repl
 * resolve every external symbol of JIT'd code there), so JIT'd code that calls name links to
 * addr even though the app does not export it dynamically. A function a controller calls
 * itself (rather than JIT'd code) must have the wrapper-function ABI.
 * Returns 0, or -1 if ex, name or addr is NULL, name is empty or not UTF-8, or already
 * published. Thread-safe; applies to serves that start afterwards.
 */
int orcx_executor_add_symbol(orcx_executor *ex, const char *name, const void *addr);

/*
 * Serves one controller over two descriptors (read in_fd, write out_fd; they may be the
 * same), as `llvm-jitlink-executor filedescs=IN,OUT`, and blocks until the session ends.
 * Takes ownership of the descriptors as it is called: each one that is open is closed by
 * the time it returns, whatever it returns (also when ex is NULL or the other descriptor is
 * not open). Do not use or close them afterwards.
 * Returns 0 when the controller ended the session (end of file, Hangup) or it was closed
 * idle; -1 if ex is NULL, a descriptor is not open, or the session ended with a protocol or
 * transport error.
 */
int orcx_executor_serve_fds(const orcx_executor *ex, int in_fd, int out_fd);

/*
 * As orcx_executor_serve_fds, on a connected stream socket (TCP or Unix domain). Takes
 * ownership of fd as it is called: if open, it is closed by the time it returns, whatever it
 * returns (also when ex is NULL or fd is not a TCP or Unix stream socket). Blocks until the
 * session ends.
 */
int orcx_executor_serve_socket(const orcx_executor *ex, int fd);

/*
 * Listens on host_port ("127.0.0.1:0"; port 0 picks a free port, written to *bound_port
 * unless bound_port is NULL) and serves controllers on a background thread, several at once
 * (up to 16; one more gets a Hangup saying why), each in a session of its own. Returns NULL
 * if the address does not resolve or cannot be bound. The executor may be freed while the
 * listener runs.
 */
orcx_listener *orcx_executor_listen(const orcx_executor *ex, const char *host_port, uint16_t *bound_port);

/*
 * Stops l and frees it: stops accepting at once, ends every session still running as if
 * its controller had closed the connection (JIT'd code still running gets 1 s to return, then
 * its thread is left to finish on its own), and returns when that is done. Returns 0, or -1
 * if l is NULL or the listener had already stopped on an error (it is freed all the same).
 */
int orcx_listener_shutdown(orcx_listener *l);

/*
 * Frees ex (NULL: nothing). No other thread may be using ex. If ex owns the log callback,
 * waits for calls of it in progress on other threads; after that it is not called again.
 */
void orcx_executor_free(orcx_executor *ex);

/*
 * The message of the last failed call on this thread, or NULL if none failed yet. Valid
 * until the next failing call on this thread.
 */
const char *orcx_last_error(void);

/* The library's version, e.g. "0.1.0". */
const char *orcx_version(void);

#ifdef __cplusplus
}
#endif

#endif /* ORC_EXECUTOR_H */
