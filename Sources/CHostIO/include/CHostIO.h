// CHostIO: Linux file I/O that Swift's Glibc module does not export (it needs _GNU_SOURCE or
// <linux/fs.h>): open-file-description locks, fallocate modes, a block device's size, O_DIRECT.
// Nothing else.
#ifndef CHOSTIO_H
#define CHOSTIO_H

#include <stdint.h>

/// O_DIRECT for open(2).
extern const int CHOSTIO_O_DIRECT;

/// Takes an OFD lock on the whole file: exclusive (write) or shared (read). Non-blocking:
/// returns 0, or -1 with errno (EAGAIN / EACCES when another open file holds a conflicting lock).
int chostio_ofd_lock(int fd, int exclusive);

/// Deallocates [offset, offset + length) keeping the file size (reads return zeros). 0 or -1.
int chostio_punch_hole(int fd, uint64_t offset, uint64_t length);

/// Zeroes [offset, offset + length) without writing data where the file system can. 0 or -1.
int chostio_zero_range(int fd, uint64_t offset, uint64_t length);

/// The size in bytes of the block device open at fd (BLKGETSIZE64). 0 or -1.
int chostio_block_device_size(int fd, uint64_t *size);

#endif
