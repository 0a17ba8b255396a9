#ifndef FAXD_CNET_H
#define FAXD_CNET_H

#include <stddef.h>

/// Receives up to `count` datagrams from non-blocking socket `fd` with one recvmmsg(2) call.
/// Datagram i goes to `buffers + i * capacity` (at most `capacity` bytes), its length to
/// `lengths[i]` (`capacity + 1` when it was longer and got truncated), its source address to
/// `sources + i * source_size` and the address length to `source_lengths[i]`.
/// Returns the number received, 0 when none is waiting, -1 on another error (errno set).
int cnet_receive_batch(int fd, void *buffers, size_t capacity, int count, size_t *lengths,
                       void *sources, unsigned source_size, unsigned *source_lengths);

/// Gives free heap memory back to the kernel (glibc malloc_trim(0)): 1 if some was released.
int cnet_malloc_trim(void);

#endif
