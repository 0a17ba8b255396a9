// What faxd reads from spandsp's private structures: the per-call state sizes (memory
// accounting, the benchmark prints them), T.30's current phase (spandsp 0.0.6 has no getter),
// and the received-page hook (spandsp 0.0.6 calls t4_rx's row write handler only at the end of a
// page, from the whole page image it kept; the hook takes that image over instead of letting
// spandsp compress and write it to the TIFF inside the media tick).
// Only this file sees spandsp's private structures.
#define SPANDSP_EXPOSE_INTERNAL_STRUCTURES
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#include "CSpanDSP.h"
#include <spandsp/version.h>

size_t cspandsp_fax_state_size(void) { return sizeof(fax_state_t); }
size_t cspandsp_t38_terminal_state_size(void) { return sizeof(t38_terminal_state_t); }
int cspandsp_t30_phase(const t30_state_t *s) { return s->phase; }

struct cspandsp_rx_page_hook {
    t4_rx_state_t *t4;
    cspandsp_rx_page_handler_t handler;
    void *user_data;
    int rows_given;   // rows of the page being received already handed over
};

cspandsp_rx_page_hook_t *cspandsp_rx_page_hook_new(cspandsp_rx_page_handler_t handler, void *user_data)
{
    cspandsp_rx_page_hook_t *hook = calloc(1, sizeof(*hook));
    if (hook) {
        hook->handler = handler;
        hook->user_data = user_data;
    }
    return hook;
}

void cspandsp_rx_page_hook_free(cspandsp_rx_page_hook_t *hook) { free(hook); }

static void copy_text(cspandsp_rx_page_t *page, int bit, char *to, size_t size, const char *from)
{
    if (from == NULL) {
        to[0] = '\0';
        return;
    }
    page->present |= bit;
    strncpy(to, from, size - 1);
    to[size - 1] = '\0';
}

// The page's rows in the buffer are all that were not handed over: image_length counts every
// row of the page, image_size the ones still held. When t4_rx_start_page restarted the page
// (image_length and image_size both from 0 again), nothing handed over belongs to it any more.
static void notice_restart(cspandsp_rx_page_hook_t *hook)
{
    t4_rx_state_t *s = hook->t4;
    int held = s->bytes_per_row > 0 ? s->image_size / s->bytes_per_row : 0;
    if (hook->rows_given > 0 && s->image_length != hook->rows_given + held) hook->rows_given = 0;
}

static cspandsp_rx_page_t *new_piece(cspandsp_rx_page_hook_t *hook, int rows)
{
    t4_rx_state_t *s = hook->t4;
    cspandsp_rx_page_t *page = calloc(1, sizeof(*page));
    if (page == NULL) return NULL;
    page->first_row = hook->rows_given;
    page->rows = rows;
    page->bytes_per_row = s->bytes_per_row;
    page->width = s->image_width;
    page->length = s->image_length;
    page->x_resolution = s->x_resolution;
    page->y_resolution = s->y_resolution;
    page->output_compression = s->tiff.output_compression;
    page->output_t4_options = s->tiff.output_t4_options;
    return page;
}

// t4_rx_end_page calls this once per row of the finished page (rows already handed over by a
// drain are no longer in the buffer, and are skipped unread), then once with len 0: the rows
// still held are handed over with the page's end, in spandsp's own buffer.
static int cspandsp_rx_row(void *user_data, const uint8_t buf[], size_t len)
{
    (void)buf;
    cspandsp_rx_page_hook_t *hook = user_data;
    if (len != 0) return 0;
    t4_rx_state_t *s = hook->t4;
    notice_restart(hook);
    cspandsp_rx_page_t *page = new_piece(hook, s->bytes_per_row > 0 ? s->image_size / s->bytes_per_row : 0);
    if (page == NULL) return -1;
    time_t now = time(NULL);
    page->final = 1;
    page->image = s->image_buffer;
    page->bad_rows = s->t4_t6_rx.bad_rows;
    page->longest_bad_row_run = s->t4_t6_rx.longest_bad_row_run;
    page->receive_seconds = (long)(now - s->page_start_time);
    page->now = (long long)now;
    copy_text(page, 1, page->dcs, sizeof(page->dcs), s->tiff.metadata.dcs);
    copy_text(page, 2, page->sub_address, sizeof(page->sub_address), s->tiff.metadata.sub_address);
    copy_text(page, 4, page->far_ident, sizeof(page->far_ident), s->tiff.metadata.far_ident);
    copy_text(page, 8, page->vendor, sizeof(page->vendor), s->tiff.metadata.vendor);
    copy_text(page, 16, page->model, sizeof(page->model), s->tiff.metadata.model);
    // spandsp grows a new buffer with realloc from NULL when the next page's first row arrives
    // (a buffer of the old size given to it now would come from glibc's heap, where freed page
    // images are still resident: the channel would keep a page's RAM between pages again).
    // After this call t4_rx_end_page only resets counters (image_size = 0).
    s->image_buffer = NULL;
    s->image_buffer_size = 0;
    hook->rows_given = 0;
    hook->handler(hook->user_data, page);
    return 0;
}

int cspandsp_rx_page_hook_drain(cspandsp_rx_page_hook_t *hook, int min_rows)
{
    t4_rx_state_t *s = hook->t4;
    if (s == NULL || s->t4_t6_rx.row_write_handler != cspandsp_rx_row || s->image_buffer == NULL || s->bytes_per_row <= 0) return 0;
    size_t stride = (size_t)s->bytes_per_row;
    int held = s->image_size / s->bytes_per_row;
    // The last row stays: put_decoded_row copies it (at last_row_starts_at, always the start of
    // the newest row) over the next row if that one is bad.
    int give = held - 1;
    if (give < 1 || give < min_rows) return 0;
    // spandsp's buffer (the rows, and after an ECM block a whole page's capacity) goes to the
    // writer as it is; spandsp carries on in a fresh 48-row buffer holding the kept row: room for
    // what arrives between drains (min_rows + 1, and a step of non-ECM rows at 14,400 bit/s, about
    // 22) without growing it.
    uint8_t *fresh = malloc(48 * stride);
    if (fresh == NULL) return 0;
    notice_restart(hook);
    cspandsp_rx_page_t *page = new_piece(hook, give);
    if (page == NULL) {
        free(fresh);
        return 0;
    }
    memcpy(fresh, s->image_buffer + (size_t)give * stride, stride);
    page->image = s->image_buffer;
    s->image_buffer = fresh;
    s->image_buffer_size = (int)(48 * stride);
    s->image_size = s->bytes_per_row;
    s->t4_t6_rx.last_row_starts_at = 0;
    hook->rows_given += give;
    hook->handler(hook->user_data, page);
    return give;
}

int cspandsp_rx_page_hook_install(t30_state_t *t30, cspandsp_rx_page_hook_t *hook)
{
    t4_rx_state_t *s = &t30->t4.rx;
    // t4_rx_init sets `rx` and opens the TIFF; until then the union holds nothing of ours.
    if (!s->rx || s->tiff.tiff_file == NULL) return 0;
    if (s->t4_t6_rx.row_write_handler == cspandsp_rx_row && s->t4_t6_rx.row_write_user_data == hook) return 0;
    hook->t4 = s;
    hook->rows_given = 0;
    t4_rx_set_row_write_handler(s, cspandsp_rx_row, hook);
    return 1;
}

void cspandsp_rx_page_free(cspandsp_rx_page_t *page)
{
    if (page == NULL) return;
    free(page->image);
    free(page);
}

size_t cspandsp_t30_t4_image_bytes(const t30_state_t *t30)
{
    // Resident pages of the buffer (mincore), not its size: a fresh buffer takes no RAM until used.
    const t4_state_t *s = &t30->t4.rx;
    if (s->image_buffer == NULL || s->image_buffer_size <= 0) return 0;
    uintptr_t page_size = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)s->image_buffer & ~(page_size - 1);
    uintptr_t end = (uintptr_t)s->image_buffer + (uintptr_t)s->image_buffer_size;
    size_t pages = (size_t)((end - start + page_size - 1) / page_size);
    unsigned char vec[4096];
    if (pages > sizeof(vec)) return (size_t)s->image_buffer_size;
    if (mincore((void *)start, pages * page_size, vec) != 0) return (size_t)s->image_buffer_size;
    size_t resident = 0;
    for (size_t i = 0; i < pages; i++) if (vec[i] & 1) resident += page_size;
    return resident;
}


const char *cspandsp_tiff_software(void) { return "Spandsp " SPANDSP_RELEASE_DATETIME_STRING; }

struct cspandsp_tx_page_source {
    t4_tx_state_t *t4;
    cspandsp_tx_page_fetch_t fetch;
    void *user_data;
    uint8_t *image;   // the page being fed, NULL between pages
    int bytes_per_row;
    int rows;
    int next_row;
};

cspandsp_tx_page_source_t *cspandsp_tx_page_source_new(cspandsp_tx_page_fetch_t fetch, void *user_data)
{
    cspandsp_tx_page_source_t *source = calloc(1, sizeof(*source));
    if (source) {
        source->fetch = fetch;
        source->user_data = user_data;
    }
    return source;
}

void cspandsp_tx_page_source_free(cspandsp_tx_page_source_t *source)
{
    if (source == NULL) return;
    free(source->image);
    free(source);
}

// t4_tx_start_page calls this for row after row of the page until it returns 0 (end of page),
// all within one call; the first call of a page fetches the page.
static int cspandsp_tx_row(void *user_data, uint8_t buf[], size_t len)
{
    cspandsp_tx_page_source_t *source = user_data;
    if (source->image == NULL) {
        source->image = source->fetch(source->user_data, source->t4->current_page, &source->bytes_per_row, &source->rows);
        source->next_row = 0;
        if (source->image == NULL) return 0;
        if ((size_t)source->bytes_per_row != len) {
            // Not the width spandsp set up for (the document changed under us): end the page.
            free(source->image);
            source->image = NULL;
            return -1;
        }
    }
    if (source->next_row >= source->rows) {
        free(source->image);
        source->image = NULL;
        return 0;
    }
    memcpy(buf, source->image + (size_t)source->next_row * source->bytes_per_row, len);
    source->next_row++;
    return (int)len;
}

int cspandsp_tx_page_source_install(t30_state_t *t30, cspandsp_tx_page_source_t *source, int last_page)
{
    t4_tx_state_t *s = &t30->t4.tx;
    if (s->rx || s->tiff.tiff_file == NULL) return 0;
    if (s->t4_t6_tx.row_read_handler == cspandsp_tx_row && s->t4_t6_tx.row_read_user_data == source) return 0;
    source->t4 = s;
    s->tiff.stop_page = last_page;
    t4_tx_set_row_read_handler(s, cspandsp_tx_row, source);
    return 1;
}

int cspandsp_t30_tx_current_page(const t30_state_t *t30)
{
    const t4_tx_state_t *s = &t30->t4.tx;
    if (s->rx || s->tiff.tiff_file == NULL) return -1;
    return s->current_page;
}

size_t cspandsp_t30_release_ecm_buffer(t30_state_t *t30)
{
    static uintptr_t page_size = 0;
    if (page_size == 0) page_size = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)&t30->ecm_data[0][0];
    uintptr_t end = start + sizeof(t30->ecm_data);
    uintptr_t first = (start + page_size - 1) & ~(page_size - 1);
    uintptr_t last = end & ~(page_size - 1);
    if (last <= first) return 0;
    if (madvise((void *)first, last - first, MADV_DONTNEED) != 0) return 0;
    return (size_t)(last - first);
}

size_t cspandsp_t30_resident_ecm_bytes(const t30_state_t *t30)
{
    uintptr_t page_size = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)&t30->ecm_data[0][0] & ~(page_size - 1);
    uintptr_t end = (uintptr_t)&t30->ecm_data[0][0] + sizeof(t30->ecm_data);
    size_t pages = (size_t)((end - start + page_size - 1) / page_size);
    unsigned char vec[32];
    if (pages > sizeof(vec)) return 0;
    if (mincore((void *)start, pages * page_size, vec) != 0) return 0;
    size_t resident = 0;
    for (size_t i = 0; i < pages; i++) if (vec[i] & 1) resident += page_size;
    return resident;
}
