#include <stdio.h>
#include "CSpanDSP.h"

static void cspandsp_discard_message(int level, const char *text) { (void)level; (void)text; }
static void cspandsp_discard_error(const char *text) { (void)text; }

void cspandsp_silence_global_logging(void) {
    span_set_message_handler(cspandsp_discard_message);
    span_set_error_handler(cspandsp_discard_error);
}

static void cspandsp_stderr_message(int level, const char *text) { (void)level; fputs(text, stderr); }

void cspandsp_configure_logging(logging_state_t *s, int level, int to_stderr, const char *tag) {
    span_log_set_message_handler(s, to_stderr ? cspandsp_stderr_message : cspandsp_discard_message);
    span_log_set_error_handler(s, cspandsp_discard_error);
    if (tag) span_log_set_tag(s, tag);
    span_log_set_level(s, to_stderr ? (level | SPAN_LOG_SHOW_TAG | SPAN_LOG_SHOW_SAMPLE_TIME) : level);
}

int cspandsp_tiff_get_u32(TIFF *tif, uint32_t tag, uint32_t *value) { return TIFFGetField(tif, tag, value); }
int cspandsp_tiff_get_u16(TIFF *tif, uint32_t tag, uint16_t *value) { return TIFFGetField(tif, tag, value); }
int cspandsp_tiff_get_u16_pair(TIFF *tif, uint32_t tag, uint16_t *a, uint16_t *b) { return TIFFGetField(tif, tag, a, b); }
int cspandsp_tiff_get_float(TIFF *tif, uint32_t tag, float *value) { return TIFFGetField(tif, tag, value); }
int cspandsp_tiff_get_string(TIFF *tif, uint32_t tag, const char **value) { return TIFFGetField(tif, tag, value); }
int cspandsp_tiff_set_u32(TIFF *tif, uint32_t tag, uint32_t value) { return TIFFSetField(tif, tag, value); }
int cspandsp_tiff_set_u16(TIFF *tif, uint32_t tag, uint16_t value) { return TIFFSetField(tif, tag, (int)value); }
int cspandsp_tiff_set_u16_pair(TIFF *tif, uint32_t tag, uint16_t a, uint16_t b) { return TIFFSetField(tif, tag, (int)a, (int)b); }
int cspandsp_tiff_set_float(TIFF *tif, uint32_t tag, float value) { return TIFFSetField(tif, tag, (double)value); }
int cspandsp_tiff_set_string(TIFF *tif, uint32_t tag, const char *value) { return TIFFSetField(tif, tag, value); }

static void cspandsp_tiff_discard(const char *module, const char *fmt, va_list ap) { (void)module; (void)fmt; (void)ap; }
void cspandsp_tiff_quiet(void) {
    TIFFSetWarningHandler(cspandsp_tiff_discard);
    TIFFSetErrorHandler(cspandsp_tiff_discard);
}

fsk_rx_state_t *cspandsp_fsk_rx_v21(hdlc_rx_state_t *hdlc)
{
    return fsk_rx_init(NULL, &preset_fsk_specs[FSK_V21CH2], FSK_FRAME_MODE_SYNC, (put_bit_func_t) hdlc_rx_put_bit, hdlc);
}

uint8_t *cspandsp_tx_decode_page(const char *path, int index, int *bytes_per_row, int *rows)
{
    cspandsp_tiff_quiet();
    TIFF *tif = TIFFOpen(path, "r");
    if (tif == NULL) return NULL;
    uint8_t *image = NULL;
    uint32_t width = 0, length = 0;
    uint16_t photometric = PHOTOMETRIC_MINISWHITE;
    if (!TIFFSetDirectory(tif, (tdir_t)index)
        || !TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &width)
        || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &length)
        || width == 0 || length == 0) {
        TIFFClose(tif);
        return NULL;
    }
    int stride = (int)((width + 7) / 8);
    image = malloc((size_t)stride * length);
    if (image == NULL) {
        TIFFClose(tif);
        return NULL;
    }
    TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric);
    uint32_t row;
    for (row = 0; row < length; row++) {
        uint8_t *line = image + (size_t)row * stride;
        if (TIFFReadScanline(tif, line, row, 0) <= 0) break;
        if (photometric != PHOTOMETRIC_MINISWHITE) {
            for (int i = 0; i < stride; i++) line[i] = (uint8_t)~line[i];
        }
    }
    TIFFClose(tif);
    *bytes_per_row = stride;
    *rows = (int)row;
    return image;
}

int cspandsp_tx_document_uniform(const char *path, int *pages)
{
    cspandsp_tiff_quiet();
    TIFF *tif = TIFFOpen(path, "r");
    if (tif == NULL) return 0;
    int count = TIFFNumberOfDirectories(tif);
    uint32_t width0 = 0;
    float x0 = 0, y0 = 0;
    uint16_t unit0 = 0;
    int uniform = count > 0;
    for (int i = 0; uniform && i < count; i++) {
        uint32_t width = 0;
        float x = 0, y = 0;
        uint16_t unit = RESUNIT_INCH, bits = 1, samples = 1;
        if (!TIFFSetDirectory(tif, (tdir_t)i)
            || !TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &width)
            || !TIFFGetField(tif, TIFFTAG_XRESOLUTION, &x)
            || !TIFFGetField(tif, TIFFTAG_YRESOLUTION, &y)) {
            uniform = 0;
            break;
        }
        TIFFGetField(tif, TIFFTAG_RESOLUTIONUNIT, &unit);
        TIFFGetField(tif, TIFFTAG_BITSPERSAMPLE, &bits);
        TIFFGetField(tif, TIFFTAG_SAMPLESPERPIXEL, &samples);
        if (bits != 1 || samples != 1) uniform = 0;
        if (i == 0) {
            width0 = width; x0 = x; y0 = y; unit0 = unit;
        } else if (width != width0 || x != x0 || y != y0 || unit != unit0) {
            uniform = 0;
        }
    }
    TIFFClose(tif);
    *pages = count;
    return uniform;
}
