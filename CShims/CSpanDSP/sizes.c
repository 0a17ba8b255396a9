// The sizes of spandsp's per-call states, for memory accounting (the benchmark prints them).
// Only this file sees spandsp's private structures.
#define SPANDSP_EXPOSE_INTERNAL_STRUCTURES
#include "CSpanDSP.h"

size_t cspandsp_fax_state_size(void) { return sizeof(fax_state_t); }
size_t cspandsp_t38_terminal_state_size(void) { return sizeof(t38_terminal_state_t); }
