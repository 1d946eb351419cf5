/*
 * virtio_net.c — the polling virtio-net driver (see virtio_net.h).
 *
 * Reference: virtio 1.1/1.2, section 5.1 (network device): 5.1.3 features, 5.1.4 config
 * space, 5.1.6 packets (5.1.6.2 transmission, 5.1.6.3 receive buffers, 5.1.6.4 reception).
 */
#include "virtio_net.h"

#include <stddef.h>

#include "console.h"
#include "defs.h"
#include "lib.h"
#include "platform.h"

#define NET_FEATURES_WANTED                                                                              \
	(VIRTIO_FEATURE(VIRTIO_NET_F_MTU) | VIRTIO_FEATURE(VIRTIO_NET_F_MAC) | VIRTIO_FEATURE(VIRTIO_NET_F_STATUS))

/* The locally administered unicast MAC used when the device offers none. */
static const uint8_t default_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

#define NET_FAIL(net, format, ...)                                                                    \
	do {                                                                                          \
		fw_printf("fw: %s FAIL " format "\n", (net)->name, __VA_ARGS__);                     \
		platform_debug_exit(FW_STATUS_NET_FAILED);                                            \
	} while (0)

void net_fail(const struct net_device *net, const char *what)
{
	fw_printf("fw: %s FAIL %s\n", net->name, what);
	platform_debug_exit(FW_STATUS_NET_FAILED);
}

static uint64_t round_up(uint64_t value, uint64_t to)
{
	return (value + to - 1) / to * to;
}

static uint8_t *rx_buffer(const struct net_device *net, unsigned index)
{
	return net->rx_buffers + (uint64_t)index * net->rx_stride;
}

static uint8_t *tx_buffer(const struct net_device *net, unsigned index)
{
	return net->tx_buffers + (uint64_t)index * net->stride;
}

static void rx_post(struct net_device *net, unsigned index)
{
	struct virtq_buffer buffer = {.data = rx_buffer(net, index), .length = net->rx_size, .device_writes = true};
	/* One descriptor per buffer and never more buffers than entries: there is always room. */
	if (virtq_add(net->rxq, &buffer, 1, false, (void *)(uintptr_t)(index + 1)) < 0)
		net_fail(net, "driver bug: no room in the receive queue");
	net->rx_pending = true;
}

void net_open(struct net_device *net, struct virtio_device *dev, const char *name, uint8_t *arena,
	      uint64_t arena_size, uint32_t rx_buffer_size)
{
	*net = (struct net_device){.dev = dev, .name = name};
	/* Small receive buffers only with VIRTIO_NET_F_MRG_RXBUF (fw.net-rx-buffer=N). */
	virtio_begin(dev, NET_FEATURES_WANTED | (rx_buffer_size ? VIRTIO_FEATURE(VIRTIO_NET_F_MRG_RXBUF) : 0));
	uint64_t features = dev->features;
	net->mergeable = (features & VIRTIO_FEATURE(VIRTIO_NET_F_MRG_RXBUF)) != 0;
	if (rx_buffer_size && !net->mergeable)
		net_fail(net, "fw.net-rx-buffer needs VIRTIO_NET_F_MRG_RXBUF, which the device does not offer");

	/* Config space (5.1.4), only the fields whose feature was negotiated. */
	net->mac_from_device = (features & VIRTIO_FEATURE(VIRTIO_NET_F_MAC)) != 0;
	if (net->mac_from_device)
		virtio_config_read(dev, VIRTIO_NET_CONFIG_MAC, net->mac, sizeof(net->mac));
	else
		memcpy(net->mac, default_mac, sizeof(net->mac));
	net->has_status = (features & VIRTIO_FEATURE(VIRTIO_NET_F_STATUS)) != 0;
	net->link_up = true;
	if (net->has_status)
		net->link_up = (virtio_config_read16(dev, VIRTIO_NET_CONFIG_STATUS) & VIRTIO_NET_S_LINK_UP) != 0;
	net->has_mtu = (features & VIRTIO_FEATURE(VIRTIO_NET_F_MTU)) != 0;
	net->mtu = NET_DEFAULT_MTU;
	if (net->has_mtu) {
		net->mtu = virtio_config_read16(dev, VIRTIO_NET_CONFIG_MTU);
		if (net->mtu < NET_MIN_MTU)
			NET_FAIL(net, "device mtu %u is below %u", (unsigned)net->mtu, (unsigned)NET_MIN_MTU);
	}
	net->buffer_size = NET_HDR_SIZE + NET_ETH_HEADER + net->mtu;
	net->stride = (uint32_t)round_up(net->buffer_size, NET_BUFFER_ALIGN);
	net->rx_size = rx_buffer_size ? rx_buffer_size : net->buffer_size;
	net->rx_stride = (uint32_t)round_up(net->rx_size, rx_buffer_size ? 64 : NET_BUFFER_ALIGN);

	/* The rings first (page aligned), then the shared zero header, [the joining buffer,] then
	 * the buffers. */
	uint64_t rings = 2 * round_up(sizeof(struct virtq), 4096) + 4096;
	if (net->mergeable)
		rings += round_up(net->buffer_size, 4096);
	if (arena_size < rings)
		NET_FAIL(net, "free RAM (%llu bytes) too small for the queues", (unsigned long long)arena_size);
	net->rxq = (struct virtq *)arena;
	net->txq = (struct virtq *)(arena + round_up(sizeof(struct virtq), 4096));
	net->tx_header = (struct virtio_net_hdr *)(arena + 2 * round_up(sizeof(struct virtq), 4096));
	if (net->mergeable)
		net->merge_buffer = arena + 2 * round_up(sizeof(struct virtq), 4096) + 4096;
	memset(arena, 0, rings);
	virtio_queue_setup(dev, net->rxq, NET_RX_QUEUE, NET_QUEUE_SIZE_LIMIT);
	virtio_queue_setup(dev, net->txq, NET_TX_QUEUE, NET_QUEUE_SIZE_LIMIT);

	/* Less one alignment granule: the transmit buffers start on one. */
	uint64_t room = arena_size - rings > NET_BUFFER_ALIGN ? arena_size - rings - NET_BUFFER_ALIGN : 0;
	unsigned rx = net->rxq->size, tx = net->txq->size;
	if ((uint64_t)rx * net->rx_stride + (uint64_t)tx * net->stride > room) {
		/* Share what there is, half the bytes each (at least one buffer each). */
		uint64_t half = room / 2;
		if ((uint64_t)rx * net->rx_stride > half)
			rx = (unsigned)(half / net->rx_stride);
		if ((uint64_t)tx * net->stride > room - (uint64_t)rx * net->rx_stride)
			tx = (unsigned)((room - (uint64_t)rx * net->rx_stride) / net->stride);
	}
	if (rx == 0 || tx == 0)
		NET_FAIL(net, "free RAM (%llu bytes) too small for two %u-byte buffers", (unsigned long long)arena_size,
			 (unsigned)net->stride);
	net->rx_count = rx;
	net->tx_count = tx;
	net->rx_buffers = arena + rings;
	net->tx_buffers = net->rx_buffers + round_up((uint64_t)rx * net->rx_stride, NET_BUFFER_ALIGN);
	memset(net->rx_buffers, 0, (uint64_t)(net->tx_buffers - net->rx_buffers) + (uint64_t)tx * net->stride);
	for (unsigned i = 0; i < tx; i++) {
		net->tx_free[i] = (uint16_t)(tx - 1 - i); /* buffer 0 on top */
		net->tx_buffer_busy[i] = false;
	}
	net->tx_free_count = tx;

	virtio_driver_ok(dev);
	/* 5.1.5: fill the receive queue; notifications only after DRIVER_OK. */
	for (unsigned i = 0; i < rx; i++)
		rx_post(net, i);
	net_rx_kick(net);
}

void net_close(struct net_device *net)
{
	virtio_reset(net->dev);
}

/* The next used receive buffer: its index, and its used length in *length. */
static unsigned rx_take(struct net_device *net, uint32_t *length, bool wait)
{
	struct virtq_completion c;
	unsigned spins = 0;
	while (!virtq_get_used(net->rxq, &c)) {
		/* The buffers of one merged frame are published together: they are all there. */
		if (!wait || ++spins > 1000000)
			return NET_FRAME_JOINED;
		__asm__ volatile("pause");
	}
	uintptr_t token = (uintptr_t)c.token;
	if (token == 0 || token > net->rx_count)
		net_fail(net, "used element names no receive buffer");
	*length = c.length;
	return (unsigned)(token - 1);
}

bool net_receive(struct net_device *net, struct net_frame *out)
{
	uint32_t length;
	unsigned index = rx_take(net, &length, false);
	if (index == NET_FRAME_JOINED)
		return false;
	if (length < NET_HDR_SIZE || length > net->rx_size)
		NET_FAIL(net, "receive used length %u, expected %u to %u (header + frame)", (unsigned)length,
			 (unsigned)NET_HDR_SIZE, (unsigned)net->rx_size);
	net->rx_frames++;
	const volatile struct virtio_net_hdr *header = (const volatile struct virtio_net_hdr *)rx_buffer(net, index);
	uint8_t flags = header->flags, gso_type = header->gso_type;
	if (flags != 0 || gso_type != VIRTIO_NET_HDR_GSO_NONE)
		NET_FAIL(net, "received header flags 0x%x gso_type %u (no offload was negotiated)", (unsigned)flags,
			 (unsigned)gso_type);
	uint16_t num_buffers = header->num_buffers;
	if (net->mergeable && num_buffers > 1) {
		/* 5.1.6.4: the frame goes on in the next num_buffers - 1 used buffers: join them
		 * (the buffers go back to the device at once). */
		if (num_buffers > net->rx_count)
			NET_FAIL(net, "received header num_buffers %u, more than the %u posted buffers", (unsigned)num_buffers,
				 net->rx_count);
		uint32_t total = length - NET_HDR_SIZE;
		memcpy(net->merge_buffer, rx_buffer(net, index) + NET_HDR_SIZE, total);
		rx_post(net, index);
		for (unsigned i = 1; i < num_buffers; i++) {
			uint32_t part;
			unsigned next = rx_take(net, &part, true);
			if (next == NET_FRAME_JOINED)
				NET_FAIL(net, "buffer %u of %u of a merged frame never came", i + 1, (unsigned)num_buffers);
			if (part == 0 || part > net->rx_size || total + part > net->buffer_size - NET_HDR_SIZE)
				NET_FAIL(net, "merged frame part of %u bytes (frame so far %u, at most %u)", (unsigned)part,
					 (unsigned)total, (unsigned)(net->buffer_size - NET_HDR_SIZE));
			memcpy(net->merge_buffer + total, rx_buffer(net, next), part);
			total += part;
			rx_post(net, next);
		}
		net->rx_merged++;
		out->data = net->merge_buffer;
		out->length = total;
		out->buffer = NET_FRAME_JOINED;
		return true;
	}
	/* 5.1.6.3.1: without MRG_RXBUF the device sets num_buffers to 1. Not fatal (it is
	 * meaningless here); a device that does not is reported once. */
	if (num_buffers != 1 && !net->num_buffers_reported) {
		net->num_buffers_reported = true;
		fw_printf("fw~ %s: received header num_buffers %u (a device sets 1 without MRG_RXBUF)\n", net->name,
			  (unsigned)num_buffers);
	}
	out->data = rx_buffer(net, index) + NET_HDR_SIZE;
	out->length = length - NET_HDR_SIZE;
	out->buffer = (uint16_t)index;
	return true;
}

void net_rx_release(struct net_device *net, const struct net_frame *frame)
{
	if (frame->buffer != NET_FRAME_JOINED)
		rx_post(net, frame->buffer);
}

void net_rx_kick(struct net_device *net)
{
	if (!net->rx_pending)
		return;
	net->rx_pending = false;
	virtq_kick(net->rxq);
}

unsigned net_tx_reclaim(struct net_device *net)
{
	unsigned count = 0;
	struct virtq_completion c;
	while (virtq_get_used(net->txq, &c)) {
		uintptr_t token = (uintptr_t)c.token;
		if (token == 0 || token > net->tx_count || !net->tx_buffer_busy[token - 1])
			net_fail(net, "used element names no transmit buffer in flight");
		/* c.length (bytes written into the chain) is not checked: it has no writable part. */
		net->tx_buffer_busy[token - 1] = false;
		net->tx_free[net->tx_free_count++] = (uint16_t)(token - 1);
		net->tx_completed++;
		count++;
	}
	return count;
}

uint8_t *net_tx_frame(struct net_device *net)
{
	if (net->tx_free_count == 0)
		net_tx_reclaim(net);
	if (net->tx_free_count == 0)
		return NULL;
	unsigned index = net->tx_free[--net->tx_free_count];
	net->tx_buffer_busy[index] = true;
	return tx_buffer(net, index) + NET_HDR_SIZE;
}

static unsigned tx_index(const struct net_device *net, const uint8_t *frame)
{
	uint64_t offset = (uint64_t)(frame - NET_HDR_SIZE - net->tx_buffers);
	unsigned index = (unsigned)(offset / net->stride);
	if (frame < net->tx_buffers + NET_HDR_SIZE || offset % net->stride != 0 || index >= net->tx_count ||
	    !net->tx_buffer_busy[index])
		net_fail(net, "driver bug: not a transmit buffer handed out");
	return index;
}

void net_tx_cancel(struct net_device *net, uint8_t *frame)
{
	unsigned index = tx_index(net, frame);
	net->tx_buffer_busy[index] = false;
	net->tx_free[net->tx_free_count++] = (uint16_t)index;
}

bool net_tx_submit(struct net_device *net, uint8_t *frame, uint32_t length, bool split)
{
	unsigned index = tx_index(net, frame);
	if (length > NET_ETH_HEADER + net->mtu)
		net_fail(net, "driver bug: frame longer than the mtu");
	struct virtq_buffer buffers[2];
	unsigned count;
	bool indirect = false;
	if (split) {
		/* The shared header stays all zero: flags 0, gso_type NONE, num_buffers 0 (5.1.6.2:
		 * the driver does not set num_buffers on transmit). */
		buffers[0] = (struct virtq_buffer){.data = net->tx_header, .length = NET_HDR_SIZE, .device_writes = false};
		buffers[1] = (struct virtq_buffer){.data = frame, .length = length, .device_writes = false};
		count = 2;
		indirect = net->dev->indirect;
	} else {
		memset(frame - NET_HDR_SIZE, 0, NET_HDR_SIZE);
		buffers[0] = (struct virtq_buffer){
			.data = frame - NET_HDR_SIZE, .length = NET_HDR_SIZE + length, .device_writes = false};
		count = 1;
	}
	if (virtq_add(net->txq, buffers, count, indirect, (void *)(uintptr_t)(index + 1)) < 0)
		return false;
	net->tx_frames++;
	return true;
}

void net_tx_kick(struct net_device *net)
{
	virtq_kick(net->txq);
}

static void print_queue(const struct net_device *net, const char *which, const struct virtq *vq)
{
	const volatile uint16_t *avail_event =
		(const volatile uint16_t *)((uintptr_t)&vq->used + offsetof(struct virtq_used, ring) +
					    vq->size * sizeof(struct virtq_used_elem));
	const volatile uint16_t *used_event = &vq->avail.ring[vq->size];
	fw_printf("fw~ %s: %s queue avail idx %u flags %u used_event %u, used idx %u flags %u avail_event %u, "
		  "last used %u, %u free descriptors, %u notifications, %u suppressed\n",
		  net->name, which, (unsigned)*(const volatile uint16_t *)&vq->avail.idx,
		  (unsigned)*(const volatile uint16_t *)&vq->avail.flags, (unsigned)*used_event,
		  (unsigned)*(const volatile uint16_t *)&vq->used.idx, (unsigned)*(const volatile uint16_t *)&vq->used.flags,
		  (unsigned)*avail_event, (unsigned)vq->last_used, (unsigned)vq->num_free, (unsigned)vq->notifications,
		  (unsigned)vq->suppressed);
}

void net_print_queues(const struct net_device *net)
{
	print_queue(net, "rx", net->rxq);
	print_queue(net, "tx", net->txq);
	fw_printf("fw~ %s: device status 0x%x, interrupt status 0x%x\n", net->name,
		  (unsigned)virtio_read32(net->dev, VIRTIO_MMIO_STATUS), (unsigned)virtio_interrupt_status(net->dev));
}
