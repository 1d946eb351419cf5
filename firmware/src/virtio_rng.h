/*
 * virtio_rng.h — fw.test=rng: the virtio-rng self-test (see virtio_rng.c and README.md).
 */
#ifndef FW_VIRTIO_RNG_H
#define FW_VIRTIO_RNG_H

/* Runs the test on the first virtio-rng device; prints "fw: rng ..." lines and returns after
 * "fw: rng OK", or leaves with FW_STATUS_RNG_FAILED (or FW_STATUS_VIRTIO_FAILED from the
 * driver core). */
void virtio_rng_test(void);

#endif
