// CIOUring: the io_uring ring of SwiftVMM's asynchronous block engine, through liburing (Debian
// liburing-dev). Only vectored reads and writes and fdatasync are ever queued; the ring is
// restricted to exactly those operations before it is enabled. Nothing else.
#ifndef CIORING_H
#define CIORING_H

#include <stdint.h>
#include <sys/uio.h>

/// One ring (opaque).
typedef struct cioring cioring;

/// One completion: the submission's tag and its result (bytes, or -errno).
typedef struct {
    uint64_t tag;
    int32_t result;
} cioring_completion;

/// Sets up a ring of `entries` submission slots (twice as many completion slots), restricted to
/// READV, WRITEV and FSYNC with no submission flags, and signalling `eventfd` on every
/// completion. Returns NULL with *error set to the errno (EPERM or ENOSYS when a seccomp
/// profile refuses io_uring_setup, as container runtimes' defaults do).
cioring *cioring_open(unsigned entries, int eventfd, int *error);

/// Tears the ring down (waits for nothing: the caller drains first).
void cioring_close(cioring *ring);

/// Completion slots: at most this many operations may be in flight (no completion is lost).
unsigned cioring_completion_slots(const cioring *ring);

/// Queues a preadv (write = 0) or pwritev (write = 1) of `count` iovecs at `offset`.
/// The iovecs must stay valid until the operation completes. Returns 0, or -EBUSY when the
/// submission queue is full (submit first).
int cioring_queue_transfer(cioring *ring, int write, int fd, const struct iovec *iovecs, unsigned count,
                           uint64_t offset, uint64_t tag);

/// Queues fdatasync(fd). 0 or -EBUSY.
int cioring_queue_datasync(cioring *ring, int fd, uint64_t tag);

/// Hands every queued operation to the kernel. Returns the number submitted or -errno.
int cioring_submit(cioring *ring);

/// Takes back every operation queued and not yet consumed by the kernel (a failed submit leaves
/// them queued): copies up to `maximum` of their tags into `tags` and empties the submission
/// queue, so they never start. Makes no system call. Returns the number of tags.
unsigned cioring_withdraw(cioring *ring, uint64_t *tags, unsigned maximum);

/// Copies up to `maximum` completions into `completions` and consumes them; never blocks and
/// makes no system call. Returns the number copied.
unsigned cioring_reap(cioring *ring, cioring_completion *completions, unsigned maximum);

#endif
