#define _GNU_SOURCE
#include "CHostIO.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>

const int CHOSTIO_O_DIRECT = O_DIRECT;

int chostio_ofd_lock(int fd, int exclusive) {
  struct flock lock;
  memset(&lock, 0, sizeof lock);
  lock.l_type = exclusive ? F_WRLCK : F_RDLCK;
  lock.l_whence = SEEK_SET;
  lock.l_start = 0;
  lock.l_len = 0;  // the whole file, however large it grows
  return fcntl(fd, F_OFD_SETLK, &lock);
}

int chostio_punch_hole(int fd, uint64_t offset, uint64_t length) {
  return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length);
}

int chostio_zero_range(int fd, uint64_t offset, uint64_t length) {
  return fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length);
}

int chostio_block_device_size(int fd, uint64_t *size) { return ioctl(fd, BLKGETSIZE64, size); }
