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

/// Rows of one received page as spandsp decoded them, handed over instead of being written to
/// the TIFF by spandsp (see cspandsp_rx_page_hook_install and _drain): a piece holds rows
/// `first_row ..< first_row + rows` of the page; the page's last piece has `final` set, its
/// `length` is the page's row count and its texts and times are filled in. A piece with
/// `first_row` 0 starts a page, and also restarts one whose earlier pieces came to nothing
/// (T.30 discards a page it answers with RTN). `image` is the receiver's to free
/// (cspandsp_rx_page_free). The other fields are what spandsp's TIFF writer would have put in
/// the page's directory.
typedef struct {
    uint8_t *image;
    int first_row;
    int rows;                 // rows in `image`
    int final;                // 1: the page ended with this piece
    int bytes_per_row;
    int width;
    int length;
    int x_resolution;   // pixels per metre
    int y_resolution;
    int bad_rows;
    int longest_bad_row_run;
    int output_compression;   // COMPRESSION_CCITT_T4 or _T6
    int output_t4_options;
    long receive_seconds;     // now - the page's start (TIFFTAG_FAXRECVTIME)
    long long now;            // time(NULL) at the end of the page
    int present;              // which texts spandsp had (not NULL): 1 dcs, 2 sub_address, 4 far_ident, 8 vendor, 16 model
    char dcs[256];
    char sub_address[64];
    char far_ident[64];
    char vendor[128];
    char model[128];
} cspandsp_rx_page_t;

/// Called on the receiving terminal's thread (inside fax_rx or a T.38 call, or inside
/// cspandsp_rx_page_hook_drain) with each piece of a page; the callee owns `page`.
typedef void (*cspandsp_rx_page_handler_t)(void *user_data, cspandsp_rx_page_t *page);

typedef struct cspandsp_rx_page_hook cspandsp_rx_page_hook_t;

/// A hook for one T.30 receiver; free it (cspandsp_rx_page_hook_free) after the T.30 state.
cspandsp_rx_page_hook_t *cspandsp_rx_page_hook_new(cspandsp_rx_page_handler_t handler, void *user_data);
void cspandsp_rx_page_hook_free(cspandsp_rx_page_hook_t *hook);

/// Makes `t30`'s T.4 receiver hand each page to the hook instead of writing it to its TIFF
/// (spandsp: t4_rx_set_row_write_handler). t4_rx_init clears the handler when reception of a
/// document starts, so this is called after every step of the terminal: it returns 1 when it
/// installed the hook just now, 0 when it was already in place or no reception has started.
int cspandsp_rx_page_hook_install(t30_state_t *t30, cspandsp_rx_page_hook_t *hook);

/// Hands the rows of the page being received that spandsp has decoded so far to the hook's
/// handler, when there are at least `min_rows` of them, keeping only the last one (spandsp copies
/// it over a bad row that follows), and gives a grown image buffer back: so a receiver holds a
/// few rows of a page, never the whole decoded page (455 KB at fine resolution). Called by the
/// terminal's owner after its steps; returns the rows handed over.
int cspandsp_rx_page_hook_drain(cspandsp_rx_page_hook_t *hook, int min_rows);

/// Gives the whole pages inside T.30's ECM frame buffer (`ecm_data`, 256 x 260 bytes: 74% of a
/// fax_state_t, 83% of a t38_terminal_state_t) back to the kernel (madvise MADV_DONTNEED): they
/// read as zeros again, as after spandsp's init, and take memory only once frames are written
/// into them. Only where the buffer's content is dead: right after the state's init, and at a
/// receiver once a page ended (its blocks are committed; the next block's frames overwrite it).
/// Returns the bytes released.
size_t cspandsp_t30_release_ecm_buffer(t30_state_t *t30);

/// Bytes of the ECM frame buffer's memory pages that are resident now (mincore), for tests and
/// the benchmark's memory accounting.
size_t cspandsp_t30_resident_ecm_bytes(const t30_state_t *t30);

/// "Spandsp <release date time>", the TIFFTAG_SOFTWARE spandsp writes into received pages.
const char *cspandsp_tiff_software(void);

/// Frees a page handed over by the hook (its image, then the descriptor).
void cspandsp_rx_page_free(cspandsp_rx_page_t *page);

/// A received page compressed as it arrives (pageencoder.c): libtiff's CCITT encoder writing
/// into an unnamed scratch file in `directory` (in memory when that fails or `directory` is
/// NULL), for a page that goes into the document as one raw strip once it is complete.
typedef struct cspandsp_page_encoder cspandsp_page_encoder_t;
/// `compression` COMPRESSION_CCITT_T4 (with `t4_options`) or _T6, resolutions in dots per inch
/// as the page's directory gives them; NULL if libtiff refused.
cspandsp_page_encoder_t *cspandsp_page_encoder_new(const char *directory, int width, int compression, int t4_options, float x_dpi, float y_dpi);
/// Compresses `count` rows, the page's rows from `first_row` on (0 on success). Rows that do not
/// follow the ones before (a piece went missing) fail the page.
int cspandsp_page_encoder_rows(cspandsp_page_encoder_t *encoder, int first_row, const uint8_t *rows, int count, int bytes_per_row);
/// Ends the page: `strip` (valid until the encoder is freed), its size and the rows it holds;
/// -1 if any piece failed.
int cspandsp_page_encoder_finish(cspandsp_page_encoder_t *encoder, const uint8_t **strip, size_t *size, uint32_t *rows);
void cspandsp_page_encoder_free(cspandsp_page_encoder_t *encoder);

/// Bytes of page buffer spandsp's T.4 state has in memory right now (its resident pages): a
/// receiver's decoded image (none between pages: the hook took the last one), a sender's
/// encoded page.
size_t cspandsp_t30_t4_image_bytes(const t30_state_t *t30);

/// Decodes page `index` (0-based) of the TIFF at `path` into the rows spandsp's t4_tx would
/// encode for it: libtiff's scanlines, inverted when the page states a photometric other than
/// MinIsWhite (what t4_tx's own TIFF reading does; it never reverses bits, whatever the fill
/// order says). Returns a malloc'd buffer of
/// `*rows` x `*bytes_per_row` bytes (free with free()), or NULL.
uint8_t *cspandsp_tx_decode_page(const char *path, int index, int *bytes_per_row, int *rows);

/// 1 when spandsp may be fed the pages of `path` through its row read handler: every page is
/// bilevel and has page 0's width, resolutions and unit (t4_tx reads none
/// of these again for a page it is fed, and then tells T.30 "same format" for every next page).
/// `*pages` gets the page count.
int cspandsp_tx_document_uniform(const char *path, int *pages);

/// Hands spandsp the rows of page `index` for its encoder, or returns NULL (spandsp then ends the
/// page with what it has). The callee passes ownership of a malloc'd buffer.
typedef uint8_t *(*cspandsp_tx_page_fetch_t)(void *user_data, int index, int *bytes_per_row, int *rows);

typedef struct cspandsp_tx_page_source cspandsp_tx_page_source_t;
cspandsp_tx_page_source_t *cspandsp_tx_page_source_new(cspandsp_tx_page_fetch_t fetch, void *user_data);
/// Frees the source (and a page it still holds); after the T.30 state.
void cspandsp_tx_page_source_free(cspandsp_tx_page_source_t *source);

/// Makes `t30`'s T.4 sender take its next pages from `source` instead of reading its TIFF
/// (spandsp: t4_tx_set_row_read_handler), with `last_page` as its stop page so T.30 still ends
/// the document after it. t4_tx_init clears the handler (and reads the first page itself in the
/// same call), so this is called after every step: returns 1 when installed just now.
int cspandsp_tx_page_source_install(t30_state_t *t30, cspandsp_tx_page_source_t *source, int last_page);

/// The T.4 sender's current page in the file (0-based; advanced when a page is confirmed), or -1
/// before sending started.
int cspandsp_t30_tx_current_page(const t30_state_t *t30);

#endif
