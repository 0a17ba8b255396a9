// What faxd reads from spandsp's private structures: the per-call state sizes (memory
// accounting, the benchmark prints them) and T.30's current phase (spandsp 0.0.6 has no getter).
// Only this file sees spandsp's private structures.
#define SPANDSP_EXPOSE_INTERNAL_STRUCTURES
#include "CSpanDSP.h"

size_t cspandsp_fax_state_size(void) { return sizeof(fax_state_t); }
size_t cspandsp_t38_terminal_state_size(void) { return sizeof(t38_terminal_state_t); }
int cspandsp_t30_phase(const t30_state_t *s) { return s->phase; }
