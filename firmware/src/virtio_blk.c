/*
 * virtio_blk.c — the polling virtio-blk driver (see virtio_blk.h).
 *
 * Reference: virtio 1.1/1.2, section 5.2 (block device), 4.2.2 (ConfigGeneration).
 */
#include "virtio_blk.h"

#include <stddef.h>

#include "console.h"

/* virtq_wait_used gives up after about 1.5 s; a request (a FLUSH of a lot of cached data on a
 * slow disk) may take longer: wait this many of those rounds. */
#define BLK_WAIT_ROUNDS 20

#define BLK_FEATURES_WANTED                                                                              \
	(VIRTIO_FEATURE(VIRTIO_BLK_F_RO) | VIRTIO_FEATURE(VIRTIO_BLK_F_BLK_SIZE) |                       \
	 VIRTIO_FEATURE(VIRTIO_BLK_F_FLUSH) | VIRTIO_FEATURE(VIRTIO_BLK_F_DISCARD) |                    \
	 VIRTIO_FEATURE(VIRTIO_BLK_F_WRITE_ZEROES))

void blk_open(struct blk_device *blk, struct virtio_device *dev, struct virtq *vq, const char *name, uint16_t queue)
{
	*blk = (struct blk_device){.dev = dev, .vq = vq, .name = name};
	/* Queue 0 alone: VIRTIO_BLK_F_MQ is not accepted. Another queue: it must be. */
	virtio_begin(dev, BLK_FEATURES_WANTED | (queue > 0 ? VIRTIO_FEATURE(VIRTIO_BLK_F_MQ) : 0));
	uint64_t features = dev->features;
	if (queue > 0) {
		if (!(features & VIRTIO_FEATURE(VIRTIO_BLK_F_MQ)))
			virtio_fail(dev, "no VIRTIO_BLK_F_MQ for a queue other than 0");
		uint16_t queues = virtio_config_read16(dev, VIRTIO_BLK_CONFIG_NUM_QUEUES);
		fw_printf("fw~ %s: %u request queues, using queue %u\n", name, (unsigned)queues, (unsigned)queue);
		if (queue >= queues)
			virtio_fail(dev, "fw.blk-queue is past num_queues");
	}
	blk->read_only = (features & VIRTIO_FEATURE(VIRTIO_BLK_F_RO)) != 0;
	blk->flush = (features & VIRTIO_FEATURE(VIRTIO_BLK_F_FLUSH)) != 0;
	blk->discard = (features & VIRTIO_FEATURE(VIRTIO_BLK_F_DISCARD)) != 0;
	blk->write_zeroes = (features & VIRTIO_FEATURE(VIRTIO_BLK_F_WRITE_ZEROES)) != 0;

	/* Config space: the 64-bit capacity with the ConfigGeneration loop, the rest single
	 * 32-bit (or 8-bit) fields, only those whose feature was negotiated. */
	blk->capacity = virtio_config_read64(dev, VIRTIO_BLK_CONFIG_CAPACITY);
	if (features & VIRTIO_FEATURE(VIRTIO_BLK_F_BLK_SIZE))
		blk->blk_size = virtio_config_read32(dev, VIRTIO_BLK_CONFIG_BLK_SIZE);
	if (blk->discard) {
		blk->max_discard_sectors = virtio_config_read32(dev, VIRTIO_BLK_CONFIG_MAX_DISCARD_SECTORS);
		blk->max_discard_seg = virtio_config_read32(dev, VIRTIO_BLK_CONFIG_MAX_DISCARD_SEG);
		blk->discard_sector_alignment = virtio_config_read32(dev, VIRTIO_BLK_CONFIG_DISCARD_SECTOR_ALIGNMENT);
	}
	if (blk->write_zeroes) {
		blk->max_write_zeroes_sectors = virtio_config_read32(dev, VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SECTORS);
		blk->max_write_zeroes_seg = virtio_config_read32(dev, VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SEG);
		blk->write_zeroes_may_unmap = virtio_config_read8(dev, VIRTIO_BLK_CONFIG_WRITE_ZEROES_MAY_UNMAP);
	}

	virtio_queue_setup(dev, vq, queue, BLK_QUEUE_SIZE_LIMIT);
	unsigned room = dev->indirect ? vq->size : vq->size / BLK_DESCRIPTORS_DIRECT;
	if (dev->indirect && room > VIRTQ_INDIRECT_TABLES)
		room = VIRTQ_INDIRECT_TABLES;
	if (room > BLK_MAX_IN_FLIGHT)
		room = BLK_MAX_IN_FLIGHT;
	if (room == 0)
		virtio_fail(dev, "queue too small for a block request");
	blk->max_in_flight = room;
	virtio_driver_ok(dev);
}

void blk_close(struct blk_device *blk)
{
	virtio_reset(blk->dev);
	blk->in_flight = 0;
}

void blk_prepare(struct blk_request *r, uint32_t type, uint64_t sector, void *data, uint32_t bytes)
{
	r->header = (struct virtio_blk_header){.type = type, .reserved = 0, .sector = sector};
	r->range = (struct virtio_blk_range){0};
	r->data = data;
	r->bytes = bytes;
	r->used_length = 0;
	if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES) {
		/* 5.2.6: the header's sector is unused (0) for these; the range says it all. */
		r->header.sector = 0;
		r->range = (struct virtio_blk_range){.sector = sector, .num_sectors = bytes / BLK_SECTOR_SIZE, .flags = 0};
		r->data = NULL;
		r->bytes = 0;
	} else if (type == VIRTIO_BLK_T_FLUSH) {
		r->header.sector = 0;
		r->data = NULL;
		r->bytes = 0;
	}
}

uint32_t blk_writable_bytes(const struct blk_request *r)
{
	uint32_t type = r->header.type;
	return 1 + (type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID ? r->bytes : 0);
}

bool blk_used_length_ok(const struct blk_request *r)
{
	uint32_t writable = blk_writable_bytes(r);
	if (r->status == VIRTIO_BLK_S_OK && r->header.type == VIRTIO_BLK_T_IN)
		return r->used_length == writable;
	return r->used_length >= 1 && r->used_length <= writable;
}

bool blk_submit(struct blk_device *blk, struct blk_request *r)
{
	if (blk->in_flight >= blk->max_in_flight)
		return false;
	struct virtq_buffer buffers[3];
	unsigned count = 0;
	uint32_t type = r->header.type;
	buffers[count++] = (struct virtq_buffer){.data = &r->header, .length = sizeof(r->header), .device_writes = false};
	if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES)
		buffers[count++] = (struct virtq_buffer){.data = &r->range, .length = sizeof(r->range), .device_writes = false};
	else if (type != VIRTIO_BLK_T_FLUSH)
		buffers[count++] = (struct virtq_buffer){
			.data = r->data, .length = r->bytes,
			.device_writes = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID};
	r->status = 0xff;
	buffers[count++] = (struct virtq_buffer){.data = &r->status, .length = 1, .device_writes = true};
	if (virtq_add(blk->vq, buffers, count, blk->dev->indirect, r) < 0)
		return false;
	r->in_flight = true;
	blk->in_flight++;
	return true;
}

void blk_kick(struct blk_device *blk)
{
	virtq_kick(blk->vq);
}

static struct blk_request *complete(struct blk_device *blk, const struct virtq_completion *c)
{
	struct blk_request *r = c->token;
	if (r == NULL || !r->in_flight)
		virtio_fail(blk->dev, "used element names no request in flight");
	r->in_flight = false;
	r->used_length = c->length;
	blk->in_flight--;
	/* The status byte was written by the device before it published the used element;
	 * virtq_get_used's read barrier orders our read after used->idx. */
	r->status = *(volatile uint8_t *)&r->status;
	return r;
}

struct blk_request *blk_poll(struct blk_device *blk)
{
	struct virtq_completion c;
	if (!virtq_get_used(blk->vq, &c))
		return NULL;
	return complete(blk, &c);
}

struct blk_request *blk_wait(struct blk_device *blk)
{
	struct virtq_completion c;
	if (blk->in_flight == 0)
		return NULL;
	for (unsigned round = 0; round < BLK_WAIT_ROUNDS; round++) {
		if (virtq_wait_used(blk->vq, &c))
			return complete(blk, &c);
	}
	return NULL;
}

int blk_execute(struct blk_device *blk, struct blk_request *r)
{
	if (blk->in_flight != 0 || !blk_submit(blk, r))
		virtio_fail(blk->dev, "driver bug: blk_execute with requests in flight");
	blk_kick(blk);
	struct blk_request *done = blk_wait(blk);
	if (done == NULL)
		return -1;
	return done->status;
}
