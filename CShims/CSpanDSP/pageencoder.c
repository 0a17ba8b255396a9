// A received page compressed row by row with libtiff's own CCITT encoder (the one spandsp's
// TIFF writer uses) into a scratch file, so the page can be written to the document as one raw
// strip once it is complete. The scratch file is an unnamed O_TMPFILE beside the document: the
// compressed page (up to about 100 KB for a dense fine page in T.4 2D) lives in the page cache,
// not in the process; without O_TMPFILE it is kept in memory instead.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "CSpanDSP.h"

struct cspandsp_page_encoder {
    TIFF *tiff;
    int fd;            // the scratch file, or -1: `bytes` holds the file
    uint8_t *bytes;
    size_t size;       // bytes written so far (the file's length)
    size_t capacity;
    size_t offset;     // libtiff's file position
    uint32_t next_row;
    int failed;
    uint64_t strip_offset;
    uint64_t strip_size;
};

static tmsize_t memory_read(thandle_t handle, void *buffer, tmsize_t size)
{
    cspandsp_page_encoder_t *e = handle;
    if (size <= 0 || e->offset >= e->size) return 0;
    if (e->fd >= 0) {
        ssize_t n = pread(e->fd, buffer, (size_t)size, (off_t)e->offset);
        if (n > 0) e->offset += (size_t)n;
        return (tmsize_t)n;
    }
    size_t n = (size_t)size;
    if (n > e->size - e->offset) n = e->size - e->offset;
    memcpy(buffer, e->bytes + e->offset, n);
    e->offset += n;
    return (tmsize_t)n;
}

static tmsize_t memory_write(thandle_t handle, void *buffer, tmsize_t size)
{
    cspandsp_page_encoder_t *e = handle;
    if (size <= 0) return 0;
    size_t end = e->offset + (size_t)size;
    if (e->fd >= 0) {
        size_t done = 0;
        while (done < (size_t)size) {
            ssize_t n = pwrite(e->fd, (uint8_t *)buffer + done, (size_t)size - done, (off_t)(e->offset + done));
            if (n <= 0) return -1;
            done += (size_t)n;
        }
        e->offset = end;
        if (end > e->size) e->size = end;
        return size;
    }
    if (end > e->capacity) {
        size_t capacity = e->capacity ? e->capacity : 4096;
        while (capacity < end) capacity *= 2;
        uint8_t *grown = realloc(e->bytes, capacity);
        if (grown == NULL) return -1;
        e->bytes = grown;
        e->capacity = capacity;
    }
    if (e->offset > e->size) memset(e->bytes + e->size, 0, e->offset - e->size);
    memcpy(e->bytes + e->offset, buffer, (size_t)size);
    e->offset = end;
    if (end > e->size) e->size = end;
    return size;
}

static toff_t memory_seek(thandle_t handle, toff_t offset, int whence)
{
    cspandsp_page_encoder_t *e = handle;
    uint64_t base = whence == SEEK_CUR ? e->offset : whence == SEEK_END ? e->size : 0;
    e->offset = (size_t)(base + offset);
    return (toff_t)e->offset;
}

static int memory_close(thandle_t handle) { (void)handle; return 0; }
static toff_t memory_size(thandle_t handle) { return (toff_t)((cspandsp_page_encoder_t *)handle)->size; }
static int memory_map(thandle_t handle, void **base, toff_t *size) { (void)handle; (void)base; (void)size; return 0; }
static void memory_unmap(thandle_t handle, void *base, toff_t size) { (void)handle; (void)base; (void)size; }

cspandsp_page_encoder_t *cspandsp_page_encoder_new(const char *directory, int width, int compression, int t4_options, float x_dpi, float y_dpi)
{
    cspandsp_page_encoder_t *e = calloc(1, sizeof(*e));
    if (e == NULL) return NULL;
    e->fd = directory != NULL ? open(directory, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600) : -1;
    e->tiff = TIFFClientOpen("page", "w", e, memory_read, memory_write, memory_seek, memory_close,
                             memory_size, memory_map, memory_unmap);
    if (e->tiff == NULL) {
        free(e);
        return NULL;
    }
    TIFF *t = e->tiff;
    int ok = TIFFSetField(t, TIFFTAG_COMPRESSION, compression)
        && TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)width)
        // Grows with every row written (TIFFWriteScanline extends a one-strip image).
        && TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)1)
        && TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 1)
        && TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1)
        && TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, (uint32_t)-1)
        && TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG)
        && TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE)
        && TIFFSetField(t, TIFFTAG_FILLORDER, FILLORDER_LSB2MSB)
        // The T.4 2D encoder sends a 1D row every 4 rows above 150 dpi, every 2 below (K).
        && TIFFSetField(t, TIFFTAG_XRESOLUTION, (double)x_dpi)
        && TIFFSetField(t, TIFFTAG_YRESOLUTION, (double)y_dpi)
        && TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
    // The same codec settings as the document's page (see ReceivedDocumentWriter).
    if (ok && compression == COMPRESSION_CCITT_T4)
        ok = TIFFSetField(t, TIFFTAG_T4OPTIONS, (uint32_t)t4_options) && TIFFSetField(t, TIFFTAG_FAXMODE, FAXMODE_CLASSF);
    if (!ok) {
        cspandsp_page_encoder_free(e);
        return NULL;
    }
    return e;
}

int cspandsp_page_encoder_rows(cspandsp_page_encoder_t *e, int first_row, const uint8_t *rows, int count, int bytes_per_row)
{
    if (e->failed || e->tiff == NULL) return -1;
    if (first_row < 0 || (uint32_t)first_row != e->next_row) {
        // A piece went missing: the page cannot be written whole.
        e->failed = 1;
        return -1;
    }
    for (int i = 0; i < count; i++) {
        if (TIFFWriteScanline(e->tiff, (void *)(rows + (size_t)i * (size_t)bytes_per_row), e->next_row, 0) < 0) {
            e->failed = 1;
            return -1;
        }
        e->next_row++;
    }
    return 0;
}

int cspandsp_page_encoder_finish(cspandsp_page_encoder_t *e, const uint8_t **strip, size_t *size, uint32_t *rows)
{
    // The strip is read back from the scratch file into memory for the moment it is written
    // (on the writer's queue, one page at a time).
    if (e->tiff != NULL) {
        if (e->failed || e->next_row == 0 || !TIFFFlushData(e->tiff)) {
            e->failed = 1;
        } else {
            e->strip_offset = TIFFGetStrileOffset(e->tiff, 0);
            e->strip_size = TIFFGetStrileByteCount(e->tiff, 0);
        }
        TIFFClose(e->tiff);
        e->tiff = NULL;
    }
    if (e->failed || e->strip_offset + e->strip_size > e->size) return -1;
    if (e->fd >= 0) {
        free(e->bytes);
        e->bytes = malloc(e->strip_size > 0 ? (size_t)e->strip_size : 1);
        if (e->bytes == NULL) return -1;
        size_t done = 0;
        while (done < e->strip_size) {
            ssize_t n = pread(e->fd, e->bytes + done, (size_t)e->strip_size - done, (off_t)(e->strip_offset + done));
            if (n <= 0) return -1;
            done += (size_t)n;
        }
        *strip = e->bytes;
    } else {
        *strip = e->bytes + e->strip_offset;
    }
    *size = (size_t)e->strip_size;
    *rows = e->next_row;
    return 0;
}

void cspandsp_page_encoder_free(cspandsp_page_encoder_t *e)
{
    if (e == NULL) return;
    if (e->tiff != NULL) TIFFClose(e->tiff);
    if (e->fd >= 0) close(e->fd);
    free(e->bytes);
    free(e);
}
