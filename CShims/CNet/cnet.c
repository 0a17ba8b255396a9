#define _GNU_SOURCE
#include <malloc.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "CNet.h"

#define CNET_MAX_BATCH 16

int cnet_receive_batch(int fd, void *buffers, size_t capacity, int count, size_t *lengths,
                       void *sources, unsigned source_size, unsigned *source_lengths)
{
    struct mmsghdr headers[CNET_MAX_BATCH];
    struct iovec vectors[CNET_MAX_BATCH];
    if (count > CNET_MAX_BATCH)
        count = CNET_MAX_BATCH;
    memset(headers, 0, sizeof(headers[0]) * (size_t) count);
    for (int i = 0; i < count; i++) {
        vectors[i].iov_base = (char *) buffers + (size_t) i * capacity;
        vectors[i].iov_len = capacity;
        headers[i].msg_hdr.msg_iov = &vectors[i];
        headers[i].msg_hdr.msg_iovlen = 1;
        headers[i].msg_hdr.msg_name = (char *) sources + (size_t) i * source_size;
        headers[i].msg_hdr.msg_namelen = source_size;
    }
    int n;
    do {
        n = recvmmsg(fd, headers, (unsigned) count, MSG_DONTWAIT, NULL);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    for (int i = 0; i < n; i++) {
        /* msg_len is what was copied; MSG_TRUNC in msg_flags marks a datagram longer than capacity. */
        lengths[i] = (headers[i].msg_hdr.msg_flags & MSG_TRUNC) ? capacity + 1 : headers[i].msg_len;
        source_lengths[i] = headers[i].msg_hdr.msg_namelen;
    }
    return n;
}

int cnet_malloc_trim(void) { return malloc_trim(0); }
