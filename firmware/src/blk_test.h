/*
 * blk_test.h — fw.test=blk (the virtio-blk self-test) and fw.blk-bench (a sequential read or
 * write benchmark). See blk_test.c and README.md.
 */
#ifndef FW_BLK_TEST_H
#define FW_BLK_TEST_H

#include "cmdline.h"

/* Tests every virtio-blk device in command-line order; prints "fw: blk<i> ..." lines and
 * returns after "fw: blk OK", or leaves with FW_STATUS_BLK_FAILED (or FW_STATUS_VIRTIO_FAILED
 * from the driver core). */
void blk_test(const struct fw_options *options);

/* fw.blk-bench: two passes (queue depth 1, then as deep as the queue allows) over the first
 * virtio-blk device; prints "fw~ blk-bench ..." lines; fails with FW_STATUS_BLK_FAILED. */
void blk_bench(const struct fw_options *options);

#endif
