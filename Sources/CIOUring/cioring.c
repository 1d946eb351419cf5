#include "cioring.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

// Debian's liburing.so.2.3 does not export io_uring_register_restrictions and
// io_uring_enable_rings (its symbol map misses them): the two registrations are made directly.
static int register_ring(struct io_uring *ring, unsigned opcode, const void *argument, unsigned count) {
    long result = syscall(__NR_io_uring_register, ring->ring_fd, opcode, argument, count);
    return result < 0 ? -errno : (int)result;
}

struct cioring {
    struct io_uring ring;
};

static int restrict_operations(struct io_uring *ring) {
    struct io_uring_restriction restrictions[4];
    memset(restrictions, 0, sizeof(restrictions));
    restrictions[0].opcode = IORING_RESTRICTION_SQE_OP;
    restrictions[0].sqe_op = IORING_OP_READV;
    restrictions[1].opcode = IORING_RESTRICTION_SQE_OP;
    restrictions[1].sqe_op = IORING_OP_WRITEV;
    restrictions[2].opcode = IORING_RESTRICTION_SQE_OP;
    restrictions[2].sqe_op = IORING_OP_FSYNC;
    // No SQE flags at all (no fixed files, links, drains or buffer selection).
    restrictions[3].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
    restrictions[3].sqe_flags = 0;
    return register_ring(ring, IORING_REGISTER_RESTRICTIONS, restrictions, 4);
}

cioring *cioring_open(unsigned entries, int eventfd, int *error) {
    cioring *handle = calloc(1, sizeof(*handle));
    if (handle == NULL) {
        *error = ENOMEM;
        return NULL;
    }
    int result = io_uring_queue_init(entries, &handle->ring, IORING_SETUP_R_DISABLED);
    if (result < 0) {
        free(handle);
        *error = -result;
        return NULL;
    }
    // The eventfd first: once restrictions are registered, no other registration is allowed.
    if ((result = io_uring_register_eventfd(&handle->ring, eventfd)) < 0 ||
        (result = restrict_operations(&handle->ring)) < 0 ||
        (result = register_ring(&handle->ring, IORING_REGISTER_ENABLE_RINGS, NULL, 0)) < 0) {
        io_uring_queue_exit(&handle->ring);
        free(handle);
        *error = -result;
        return NULL;
    }
    return handle;
}

void cioring_close(cioring *ring) {
    if (ring == NULL) return;
    io_uring_queue_exit(&ring->ring);
    free(ring);
}

unsigned cioring_completion_slots(const cioring *ring) { return ring->ring.cq.ring_entries; }

int cioring_queue_transfer(cioring *ring, int write, int fd, const struct iovec *iovecs, unsigned count,
                           uint64_t offset, uint64_t tag) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring->ring);
    if (sqe == NULL) return -EBUSY;
    if (write)
        io_uring_prep_writev(sqe, fd, iovecs, count, offset);
    else
        io_uring_prep_readv(sqe, fd, iovecs, count, offset);
    io_uring_sqe_set_data64(sqe, tag);
    return 0;
}

int cioring_queue_datasync(cioring *ring, int fd, uint64_t tag) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring->ring);
    if (sqe == NULL) return -EBUSY;
    io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
    io_uring_sqe_set_data64(sqe, tag);
    return 0;
}

int cioring_submit(cioring *ring) {
    int result;
    do {
        result = io_uring_submit(&ring->ring);
    } while (result == -EINTR);
    return result;
}

unsigned cioring_reap(cioring *ring, cioring_completion *completions, unsigned maximum) {
    unsigned head;
    unsigned count = 0;
    struct io_uring_cqe *cqe;
    io_uring_for_each_cqe(&ring->ring, head, cqe) {
        if (count == maximum) break;
        completions[count].tag = io_uring_cqe_get_data64(cqe);
        completions[count].result = cqe->res;
        count++;
    }
    io_uring_cq_advance(&ring->ring, count);
    return count;
}

unsigned cioring_withdraw(cioring *ring, uint64_t *tags, unsigned maximum) {
    struct io_uring_sq *sq = &ring->ring.sq;
    // Without SQPOLL the kernel consumes submissions only inside io_uring_enter, which no other
    // thread is in (the caller serializes its calls): everything from the kernel's head to
    // liburing's tail is queued and not started.
    unsigned head = io_uring_smp_load_acquire(sq->khead);
    unsigned tail = sq->sqe_tail;
    unsigned count = 0;
    for (unsigned position = head; position != tail && count < maximum; position++) {
        tags[count++] = sq->sqes[position & sq->ring_mask].user_data;
    }
    sq->sqe_head = head;
    sq->sqe_tail = head;
    io_uring_smp_store_release(sq->ktail, head);
    return count;
}
