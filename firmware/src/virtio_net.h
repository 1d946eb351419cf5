/*
 * virtio_net.h — a polling virtio-net driver (virtio 1.x, 5.1) on top of the driver core
 * (virtio.h): queue 0 = receiveq, queue 1 = transmitq (no control queue, no multiqueue).
 *
 *   struct net_device net;
 *   net_open(&net, dev, "net0", arena, arena_size);  // handshake, config, queues, buffers,
 *                                                    // DRIVER_OK, RX buffers posted
 *   struct net_frame rx;
 *   while (net_receive(&net, &rx)) { ...; net_rx_release(&net, &rx); }
 *   net_rx_kick(&net);                               // after a batch of releases
 *   uint8_t *frame = net_tx_frame(&net);             // NULL: no transmit buffer free
 *   ... build the frame ...; net_tx_submit(&net, frame, length, false); net_tx_kick(&net);
 *   net_tx_reclaim(&net);                            // takes used transmit buffers back
 *   net_close(&net);                                 // device reset
 *
 * Features: VIRTIO_F_VERSION_1 (required), EVENT_IDX and INDIRECT_DESC as the core accepts
 * them, plus VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS and VIRTIO_NET_F_MTU when offered. Never
 * a checksum or segmentation offload and never VIRTIO_NET_F_MRG_RXBUF: every frame carries
 * the 12-byte struct virtio_net_hdr (VERSION_1 makes num_buffers present) with flags 0 and
 * gso_type NONE, in both directions, and checksums are complete.
 *
 * Buffers (all in the caller's arena, identity mapped):
 *   receive   one device-writable descriptor each: header + a whole frame, NET_HDR_SIZE +
 *             14 + MTU bytes (MTU = the device's when VIRTIO_NET_F_MTU was negotiated, else
 *             1500: 1526 bytes), one per receive-queue entry (fewer if the arena is small);
 *             re-posted as soon as the caller releases a frame
 *   transmit  as many as transmit-queue entries, the same size; a frame goes out as one
 *             device-readable descriptor (header + frame, contiguous) or, with `split`, as
 *             two (a shared all-zero header, then the frame), through an indirect table
 *             when INDIRECT_DESC was negotiated
 */
#ifndef FW_VIRTIO_NET_H
#define FW_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio.h"

/* Feature bits (5.1.3). Only MTU, MAC and STATUS are ever accepted. */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_F_CTRL_VQ 17
#define VIRTIO_NET_F_MQ 22

/* Config space offsets (struct virtio_net_config, 5.1.4). */
#define VIRTIO_NET_CONFIG_MAC 0    /* u8[6], VIRTIO_NET_F_MAC */
#define VIRTIO_NET_CONFIG_STATUS 6 /* le16, VIRTIO_NET_F_STATUS */
#define VIRTIO_NET_CONFIG_MTU 10   /* le16, VIRTIO_NET_F_MTU */
#define VIRTIO_NET_S_LINK_UP 1

/* struct virtio_net_hdr flags and gso_type (5.1.6). */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE 0

#define NET_RX_QUEUE 0
#define NET_TX_QUEUE 1
#define NET_QUEUE_SIZE_LIMIT 256  /* QueueNum = min(QueueNumMax, 256) for both queues */
#define NET_HDR_SIZE 12           /* struct virtio_net_hdr with num_buffers (VERSION_1) */
#define NET_ETH_HEADER 14
#define NET_DEFAULT_MTU 1500      /* without VIRTIO_NET_F_MTU */
#define NET_MIN_MTU 68            /* 5.1.4.1: a device's mtu is at least 68 */
#define NET_BUFFER_ALIGN 2048     /* buffer stride granule: a 1526-byte buffer never crosses a page */
#define VIRTIO_NET_F_MRG_RXBUF 15

struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};
_Static_assert(sizeof(struct virtio_net_hdr) == NET_HDR_SIZE, "virtio_net_hdr is 12 bytes with num_buffers");

/* A received frame (Ethernet header first), valid until net_rx_release. */
struct net_frame {
	uint8_t *data;
	uint32_t length; /* frame bytes, without the virtio-net header */
	uint16_t buffer; /* receive buffer index, or NET_FRAME_JOINED (already given back) */
};
#define NET_FRAME_JOINED 0xffff

struct net_device {
	struct virtio_device *dev;
	const char *name;     /* "net0": prefix of failure lines */
	struct virtq *rxq, *txq;
	uint8_t mac[6];
	bool mac_from_device; /* VIRTIO_NET_F_MAC negotiated (else the fixed 02:00:00:00:00:01) */
	bool has_status;      /* VIRTIO_NET_F_STATUS negotiated */
	bool link_up;         /* status & LINK_UP, or true without VIRTIO_NET_F_STATUS */
	bool has_mtu;         /* VIRTIO_NET_F_MTU negotiated */
	uint32_t mtu;         /* the device's mtu, or NET_DEFAULT_MTU */
	uint32_t buffer_size; /* NET_HDR_SIZE + 14 + mtu: every transmit buffer's descriptor length */
	uint32_t stride;      /* buffer_size rounded up to NET_BUFFER_ALIGN */
	uint32_t rx_size;     /* a receive buffer's descriptor length (buffer_size, or fw.net-rx-buffer) */
	uint32_t rx_stride;   /* rx_size rounded up to NET_BUFFER_ALIGN */
	bool mergeable;       /* VIRTIO_NET_F_MRG_RXBUF negotiated: frames may span receive buffers */
	uint8_t *merge_buffer; /* buffer_size bytes: a frame of several receive buffers, joined */
	uint8_t *rx_buffers;  /* rx_count buffers, rx_stride apart */
	unsigned rx_count;
	uint8_t *tx_buffers;  /* tx_count buffers, stride apart */
	unsigned tx_count;
	struct virtio_net_hdr *tx_header; /* all zero: the first descriptor of split frames */
	uint16_t tx_free[NET_QUEUE_SIZE_LIMIT]; /* free transmit buffers (a stack) */
	unsigned tx_free_count;
	bool tx_buffer_busy[NET_QUEUE_SIZE_LIMIT]; /* handed out or in flight */
	bool rx_pending;      /* receive buffers released since the last net_rx_kick */
	bool num_buffers_reported; /* a received header's num_buffers was not 1 (reported once) */
	/* Statistics. */
	uint64_t rx_frames;   /* frames taken from the receive queue */
	uint64_t rx_merged;   /* of which spread over several buffers (MRG_RXBUF) */
	uint64_t tx_frames;   /* frames posted to the transmit queue */
	uint64_t tx_completed;
};

/*
 * Handshake (features above), config space (MAC, status, MTU: a device mtu below 68 fails),
 * both queues (their rings in the arena), the buffers (in the arena after the rings; fewer
 * than the queue sizes when the arena is small, at least one each, else a failure), DRIVER_OK,
 * then every receive buffer posted and the receive queue notified. `arena` must be 4 KiB
 * aligned; its memory is cleared (that also touches it before any timed use).
 */
void net_open(struct net_device *net, struct virtio_device *dev, const char *name, uint8_t *arena,
	      uint64_t arena_size, uint32_t rx_buffer);

/* Resets the device: it stops using every buffer. */
void net_close(struct net_device *net);

/*
 * The next received frame, if the device has used a receive buffer. Checks the used length
 * (at least the header, at most the buffer) and the header (flags 0, gso_type NONE: nothing
 * else was negotiated) and fails ("fw: <name> FAIL ...") on a device that breaks them.
 */
bool net_receive(struct net_device *net, struct net_frame *out);

/* Gives a received frame's buffer back to the device (posted at once; notified by net_rx_kick). */
void net_rx_release(struct net_device *net, const struct net_frame *frame);

/* Notifies the receive queue if buffers were posted since the last call (and the device wants it). */
void net_rx_kick(struct net_device *net);

/* Takes back every transmit buffer the device has used; returns how many. */
unsigned net_tx_reclaim(struct net_device *net);

/*
 * A free transmit buffer's frame area (NET_HDR_SIZE bytes into it; room for 14 + mtu bytes),
 * after reclaiming used ones; NULL when every buffer is in flight. The caller must submit it.
 */
uint8_t *net_tx_frame(struct net_device *net);

/* Gives an unsubmitted frame area from net_tx_frame back. */
void net_tx_cancel(struct net_device *net, uint8_t *frame);

/*
 * Posts a frame of `length` bytes (at most 14 + mtu) built in a net_tx_frame area: one
 * descriptor (header + frame) or, with `split`, two (the shared zero header, then the frame).
 * False when the queue has no room for the chain right now (the buffer stays the caller's:
 * submit it again later or cancel it). Not notified until net_tx_kick.
 */
bool net_tx_submit(struct net_device *net, uint8_t *frame, uint32_t length, bool split);

/* Notifies the transmit queue of the frames posted since the last call (if the device wants it). */
void net_tx_kick(struct net_device *net);

/* Frames posted and not used yet. */
static inline unsigned net_tx_in_flight(const struct net_device *net)
{
	return (unsigned)(net->tx_frames - net->tx_completed);
}

/* Prints both queues' ring indices and suppression fields, the device's Status and
 * InterruptStatus ("fw~ <name>: ..." lines): the diagnosis before a timeout failure. */
void net_print_queues(const struct net_device *net);

/* Prints "fw: <name> FAIL <what>" and leaves with FW_STATUS_NET_FAILED. */
__attribute__((noreturn)) void net_fail(const struct net_device *net, const char *what);

#endif
