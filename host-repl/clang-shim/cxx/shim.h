/*
 * orcbridge-clang: C ABI of the C++ shim over clang 22 (clang::Interpreter, the clang driver,
 * and LLVM object emission). Only opaque handles, plain integers, byte buffers and function
 * pointers cross this boundary; C++ exceptions never do (every entry point catches them and
 * reports OJIT_FAILURE). Mirrored by src/ffi.rs.
 *
 * Strings and bytes that the shim produces are appended to caller-owned sinks (ojit_sink):
 * the caller allocates, the shim only calls sink->write. Input strings are (pointer, length)
 * pairs unless documented as NUL-terminated.
 */
#ifndef ORCBRIDGE_CLANG_SHIM_H
#define ORCBRIDGE_CLANG_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ojit_status {
  OJIT_OK = 0,
  /* An internal failure (bad arguments, LLVM error, C++ exception); text in the sink named
     by the function. */
  OJIT_FAILURE = 1,
  /* The source did not compile; clang's rendered diagnostics are in the diagnostics sink. */
  OJIT_COMPILE_ERROR = 2
} ojit_status;

/* A caller-owned growable byte buffer. write() appends len bytes and must not unwind. */
typedef struct ojit_sink {
  void *ctx;
  void (*write)(void *ctx, const char *data, size_t len);
} ojit_sink;

/* Whole translation unit to one object, like `clang <argv[1..]>`: argv[0] is the clang
   executable path (the driver derives its install directory from it); argv must make the
   driver build exactly one cc1 job (e.g. contain -c and one input). If buffer is non-NULL,
   the input named buffer_name (NUL-terminated, as it appears in argv) is read from
   buffer[0..buffer_len) instead of the file system. The object (or whatever the cc1 job
   emits) is appended to `object`; every diagnostic, rendered as clang prints it, to
   `diagnostics`; *num_errors counts error and fatal diagnostics. */
ojit_status ojit_compile(const char *const *argv, size_t argc, const char *buffer_name,
                         const char *buffer, size_t buffer_len, ojit_sink *object,
                         ojit_sink *diagnostics, size_t *num_errors);

typedef struct ojit_interp ojit_interp_t;

/* Creates a clang::Interpreter for `triple` (NUL-terminated; empty = the host process triple)
   with extra driver arguments argv[0..argc) (no program name), and the shim's capture-only
   executor: nothing is JIT-linked or run in this process. On failure *out is NULL and the
   reason is in `error`. */
ojit_status ojit_interp_create(const char *triple, const char *const *argv, size_t argc,
                               ojit_interp_t **out, ojit_sink *error);

/* Destroys the interpreter (NULL is ignored). */
void ojit_interp_dispose(ojit_interp_t *interp);

/* Pops the next object produced while the interpreter was created (the runtime prelude).
   Returns 1 and fills *id / appends the object (possibly empty), or 0 when none is left. */
int ojit_interp_next_startup(ojit_interp_t *interp, uint64_t *id, ojit_sink *object);

/* Value-capture records appended to the `captures` sink of ojit_interp_parse, 24 bytes
   each, little-endian: u64 type handle, u32 ValueKind, u32 zero, u64 size in bytes
   (record/array size for kinds 5 and 6, the pointee record size for lvalue records,
   the value size otherwise). */
#define OJIT_CAPTURE_RECORD_SIZE 24

/* Parses one input (code[0..len)), rewrites value capture to the __orcbridge_value_* hooks
   and emits the object. OJIT_OK: *id is the PTU id, the object (empty if the input produced
   no module) is in `object`, one record per value capture in `captures`, warnings in
   `diagnostics`. With `attach`, the code is part of the previous input (ojit_interp_undo
   removes them together). With allow_defer, an input that neither runs code when loaded (no
   constructors) nor captures a value is kept unemitted: *deferred is set, `object` stays
   empty, and the linker names of the symbols it defines are appended to `defines`
   (NUL-terminated each); ojit_interp_emit produces its object later. A definition of a name
   of file scope that an earlier input declared is accepted: the earlier declaration is
   shadowed (out of name lookup until this input is undone); the linker names of such
   definitions whose type or kind changed are appended to `retyped` (NUL-terminated each):
   code compiled against the old type must keep the old definition.
   OJIT_COMPILE_ERROR / OJIT_FAILURE: the text is in `diagnostics`, *num_errors (at least 1)
   counts the errors, and the interpreter is as before the call. value_range[0..2) receives
   the byte offsets [begin, end) in `code` of the expression whose value is captured, or
   UINT64_MAX twice if there is none or it is not spelled in `code`. `id`, `deferred`,
   `value_range` and `num_errors` must be valid. */
ojit_status ojit_interp_parse(ojit_interp_t *interp, const char *code, size_t len, int allow_defer,
                              int attach, uint64_t *id, int *deferred, ojit_sink *object, ojit_sink *defines,
                              ojit_sink *retyped, ojit_sink *captures, uint64_t *value_range, ojit_sink *diagnostics,
                              size_t *num_errors);

/* Emits the object of deferred input `id` (once; undoing the input drops it). */
ojit_status ojit_interp_emit(ojit_interp_t *interp, uint64_t id, ojit_sink *object, ojit_sink *error);

/* Undoes the last n inputs (clang::Interpreter::Undo of their PTUs, attached ones included).
   Appends the ids of the removed PTUs (u64 LE each, newest first) to `ids`; on failure (fewer
   than n inputs since the interpreter was created; what it parsed itself cannot be undone)
   the message is in `error`. */
ojit_status ojit_interp_undo(ojit_interp_t *interp, uint32_t n, ojit_sink *ids, ojit_sink *error);

/* Renders a captured value as clang-repl prints it, without the trailing newline. `ty` must
   be a type handle this interpreter reported in a capture record, with that record's kind
   (or kind 3 for a kind 4 capture); the caller checks. data[0..len) is the payload described
   in src/lib.rs (ValueKind). Never dereferences an address found in `data`. */
ojit_status ojit_interp_render(ojit_interp_t *interp, uint64_t ty, uint32_t kind,
                               const uint8_t *data, size_t len, ojit_sink *out);

/* For a type handle this interpreter reported in a capture whose type is a C++ class (or a
   reference to one): the type as the value's header spells it (`std::vector<int> &`) in
   `header`, the canonical type in `canonical`, and, for a specialization of a class template
   of namespace std (inline namespaces skipped), `std::NAME` in `std_template`. OJIT_FAILURE
   (nothing appended) for other types. */
ojit_status ojit_interp_value_class(ojit_interp_t *interp, uint64_t ty, ojit_sink *header,
                                    ojit_sink *std_template, ojit_sink *canonical);

/* For the mangled name of a complete-object destructor, or of a constructor or destructor of a
   class template specialization, C++ that makes clang emit it: a `used` function calling the
   destructor, or an explicit instantiation (`template std::vector<int>::vector(...);`).
   clang's incremental code generation can refer to one from a top-level statement (the
   destructor of a temporary) without ever emitting it; an input attached to the failing one
   with this text emits it. OJIT_FAILURE for other names. */
ojit_status ojit_structor_instantiation(const char *symbol, ojit_sink *code);

/* Code completion at byte `pos` of `code` (an input being typed): a second compiler instance
   with this interpreter's options parses `code` with clang's code completion, importing this
   interpreter's declarations as it looks into them; the interpreter is only read. The
   identifier prefix being completed is appended to `prefix`, and each candidate (a whole
   identifier, keyword or macro name starting with the prefix), NUL-terminated, to `results`. */
ojit_status ojit_interp_complete(ojit_interp_t *interp, const char *code, size_t len, size_t pos,
                                 ojit_sink *prefix, ojit_sink *results, ojit_sink *error);

#ifdef __cplusplus
}
#endif

#endif /* ORCBRIDGE_CLANG_SHIM_H */
