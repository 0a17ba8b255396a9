// CSpanDSP: spandsp 0.0.6 and libtiff for the Fax module.
// Swift calls spandsp's plain functions directly; this header adds one-line wrappers only where
// Swift cannot call the original (variadic functions, macros).
#ifndef CSPANDSP_H
#define CSPANDSP_H

#include <stdint.h>
#include <tiffio.h>
#include <spandsp.h>

/// Silences spandsp's global message and error handlers (spandsp: span_set_message_handler);
/// faxd reports outcomes itself and never lets a library write to stderr from a media tick.
void cspandsp_silence_global_logging(void);

/// Sets one logging state's level and routes it to stderr (debugging) or to a no-op handler
/// (spandsp: span_log_set_level, span_log_set_message_handler).
void cspandsp_configure_logging(logging_state_t *s, int level, int to_stderr, const char *tag);

// libtiff's TIFFGetField/TIFFSetField are variadic; Swift cannot call C variadics.
/// A V.21 channel 2 FSK receiver (T.30's control channel) in synchronous framing mode whose bits
/// go straight into `hdlc` (spandsp: fsk_rx_init with preset_fsk_specs[FSK_V21CH2] and
/// hdlc_rx_put_bit): Swift cannot index the C array or pass the cast function pointer.
fsk_rx_state_t *cspandsp_fsk_rx_v21(hdlc_rx_state_t *hdlc);

int cspandsp_tiff_get_u32(TIFF *tif, uint32_t tag, uint32_t *value);
int cspandsp_tiff_get_u16(TIFF *tif, uint32_t tag, uint16_t *value);
int cspandsp_tiff_get_u16_pair(TIFF *tif, uint32_t tag, uint16_t *a, uint16_t *b);
int cspandsp_tiff_get_float(TIFF *tif, uint32_t tag, float *value);
int cspandsp_tiff_get_string(TIFF *tif, uint32_t tag, const char **value);
int cspandsp_tiff_set_u32(TIFF *tif, uint32_t tag, uint32_t value);
int cspandsp_tiff_set_u16(TIFF *tif, uint32_t tag, uint16_t value);
int cspandsp_tiff_set_u16_pair(TIFF *tif, uint32_t tag, uint16_t a, uint16_t b);
int cspandsp_tiff_set_float(TIFF *tif, uint32_t tag, float value);
int cspandsp_tiff_set_string(TIFF *tif, uint32_t tag, const char *value);

/// Suppresses libtiff's warning and error handlers (they print to stderr); errors surface as
/// return codes which the Swift owner turns into TIFFError values.
void cspandsp_tiff_quiet(void);

/// sizeof(fax_state_t) and sizeof(t38_terminal_state_t): what one call's terminal takes before
/// any page (spandsp also holds each page's decoded image while it is received or sent).
size_t cspandsp_fax_state_size(void);
size_t cspandsp_t38_terminal_state_size(void);

/// T.30's current phase, the `T30_PHASE_*` enum private to spandsp's t30.c (0 idle, 1 A CED,
/// 2 A CNG, 3/4 B rx/tx, 5/6 C non-ECM rx/tx, 7/8 C ECM rx/tx, 9/10 D rx/tx, 11 E, 12 finished):
/// spandsp 0.0.6 keeps it in `t30_state_t.phase` and exports no getter.
int cspandsp_t30_phase(const t30_state_t *s);

#endif
