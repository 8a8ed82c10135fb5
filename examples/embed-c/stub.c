/* The C API as empty stubs: embed-c linked with this instead of liborcx is the baseline for
   measuring what the executor library adds to an app (`make size`). Not a working program. */
#include <orc_executor.h>

#include <stddef.h>

void orcx_options_init(orcx_options *opts) { (void)opts; }
orcx_executor *orcx_executor_new(const orcx_options *opts) { (void)opts; return NULL; }
int orcx_executor_add_symbol(orcx_executor *ex, const char *name, const void *addr) { (void)ex; (void)name; (void)addr; return -1; }
orcx_listener *orcx_executor_listen(const orcx_executor *ex, const char *host_port, uint16_t *bound_port) { (void)ex; (void)host_port; (void)bound_port; return NULL; }
int orcx_listener_shutdown(orcx_listener *l) { (void)l; return -1; }
void orcx_executor_free(orcx_executor *ex) { (void)ex; }
const char *orcx_last_error(void) { return "stub"; }
