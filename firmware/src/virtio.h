/*
 * virtio.h — a polling virtio-mmio driver core (virtio 1.x, MMIO version 2 "modern" only).
 *
 * Layers:
 *   discovery   the devices named by virtio_mmio.device= tokens (cmdline.h), probed once
 *   device      register access, reset, feature negotiation, the status handshake, config
 *               space reads (with ConfigGeneration), interrupt status / acknowledge
 *   virtq       a split virtqueue in firmware memory: descriptor table + avail ring + used
 *               ring, adding chains (direct or through an indirect table), notifying the
 *               device (with EVENT_IDX or VIRTQ_USED_F_NO_NOTIFY suppression), polling the
 *               used ring, asking for or suppressing used-buffer interrupts
 *
 * A driver (virtio_rng.c and virtio_blk.c are two) does:
 *
 *   struct virtio_device *dev = virtio_find(VIRTIO_ID_RNG);
 *   virtio_begin(dev, device_specific_features);       // reset .. FEATURES_OK
 *   virtio_queue_setup(dev, &queue, 0, 64);              // per queue
 *   virtio_driver_ok(dev);                               // DRIVER_OK
 *   virtq_add(&queue, buffers, count, false, token); virtq_kick(&queue);
 *   virtq_wait_used(&queue, &used);                      // polls, bounded
 *   virtio_reset(dev);                                   // when done
 *
 * Everything runs at CPL 3 with IF = 0 and polls. Physical == virtual (identity mapping), so
 * buffer pointers are device addresses. Errors that mean the device or transport misbehaves
 * (bad magic, legacy device, VERSION_1 missing, features refused, DEVICE_NEEDS_RESET, a used
 * element naming no chain in flight, ...) print "fw: FAIL virtio... " and leave with
 * FW_STATUS_VIRTIO_FAILED; they never return.
 */
#ifndef FW_VIRTIO_H
#define FW_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "cmdline.h"

/* ---- virtio-mmio registers (virtio 1.x, 4.2.2), offsets from the device's base --------------- */

#define VIRTIO_MMIO_MAGIC_VALUE 0x000 /* 0x74726976, "virt" */
#define VIRTIO_MMIO_VERSION 0x004     /* 2; 1 is the legacy interface (not supported) */
#define VIRTIO_MMIO_DEVICE_ID 0x008   /* 0 = no device behind this transport */
#define VIRTIO_MMIO_VENDOR_ID 0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG 0x100

#define VIRTIO_MMIO_MAGIC 0x74726976
#define VIRTIO_MMIO_VERSION_MODERN 2
#define VIRTIO_MMIO_VERSION_LEGACY 1

/* InterruptStatus bits. */
#define VIRTIO_INTERRUPT_USED_BUFFER 0x1
#define VIRTIO_INTERRUPT_CONFIG_CHANGE 0x2

/* Device status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER 0x02
#define VIRTIO_STATUS_DRIVER_OK 0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

/* Device IDs (5). */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4

/* Reserved feature bits (6) the core handles; device-specific ones are bits 0-23. */
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_FEATURE(bit) (1ull << (bit))

/* ---- Discovery ------------------------------------------------------------------------------ */

#define VIRTIO_MAX_DEVICES VIRTIO_MMIO_MAX_DEVICES

struct virtio_device {
	/* From the command line. */
	uintptr_t base;
	uint64_t size;
	uint32_t irq;
	/* Read at discovery. */
	uint32_t device_id; /* 0: no device (also when the magic value is wrong) */
	uint32_t vendor_id;
	uint32_t version;
	/* Set by virtio_begin. */
	uint64_t device_features; /* what the device offers */
	uint64_t features;        /* what was negotiated (FEATURES_OK accepted) */
	bool event_idx;           /* VIRTIO_F_RING_EVENT_IDX negotiated */
	bool indirect;            /* VIRTIO_F_RING_INDIRECT_DESC negotiated */
};

/*
 * Probes every device of `options` (magic, version, device and vendor id: reads without side
 * effects) and prints "fw~ virtio-mmio: 0x<base> irq <n> device <id> version <v>" for each one
 * with a device behind it, in command-line order. Also takes fw.virtio-features. Never fails:
 * a legacy device is an error only when a driver uses it.
 */
void virtio_discover(const struct fw_options *options);

/* The first discovered device with `device_id`, or NULL. */
struct virtio_device *virtio_find(uint32_t device_id);

/* The `n`-th (from 0, in command-line order) discovered device with `device_id`, or NULL. */
struct virtio_device *virtio_find_nth(uint32_t device_id, unsigned n);

/* ---- Device --------------------------------------------------------------------------------- */

uint32_t virtio_read32(const struct virtio_device *dev, uint32_t reg);
void virtio_write32(const struct virtio_device *dev, uint32_t reg, uint32_t value);

/*
 * Initialisation up to FEATURES_OK (3.1.1): checks magic and version (legacy → "fw: FAIL
 * virtio-mmio 0x<base> is legacy"), resets (waits until Status reads 0), ACKNOWLEDGE, DRIVER,
 * reads both feature pages, accepts VIRTIO_F_VERSION_1 (required), EVENT_IDX and
 * INDIRECT_DESC when offered (unless fw.virtio-features=plain) and those of
 * `device_features_wanted` the device offers, writes FEATURES_OK and checks it stuck.
 */
void virtio_begin(struct virtio_device *dev, uint64_t device_features_wanted);

/* DRIVER_OK, then checks for DEVICE_NEEDS_RESET. */
void virtio_driver_ok(struct virtio_device *dev);

/* Resets the device (Status = 0, waits until it reads 0): it stops using the queues. */
void virtio_reset(struct virtio_device *dev);

/* Fails ("fw: FAIL virtio 0x<base> needs reset", FW_STATUS_VIRTIO_FAILED) if the device has
 * set DEVICE_NEEDS_RESET. */
void virtio_check_status(const struct virtio_device *dev);

/* InterruptStatus, and InterruptACK of the given bits. */
uint32_t virtio_interrupt_status(const struct virtio_device *dev);
void virtio_interrupt_ack(const struct virtio_device *dev, uint32_t bits);

/* Config space (offset from 0x100): single accesses of the given width, and a consistent
 * multi-byte read (retried until ConfigGeneration is the same before and after). */
uint8_t virtio_config_read8(const struct virtio_device *dev, uint32_t offset);
uint16_t virtio_config_read16(const struct virtio_device *dev, uint32_t offset);
uint32_t virtio_config_read32(const struct virtio_device *dev, uint32_t offset);
void virtio_config_read(const struct virtio_device *dev, uint32_t offset, void *out, uint32_t length);
/* A 64-bit field as two 32-bit accesses (low, then high), retried until ConfigGeneration is
 * the same before and after (4.2.2: a 64-bit field may change between the two reads). */
uint64_t virtio_config_read64(const struct virtio_device *dev, uint32_t offset);

/* Prints "fw: FAIL virtio 0x<base> <what>", sets FAILED and leaves with FW_STATUS_VIRTIO_FAILED. */
__attribute__((noreturn)) void virtio_fail(const struct virtio_device *dev, const char *what);

/* ---- Split virtqueue ------------------------------------------------------------------------ */

#define VIRTQ_MAX_SIZE 256        /* largest queue the storage holds */
#define VIRTQ_DEFAULT_SIZE 64     /* what virtio-rng asks for: min(QueueNumMax, 64) */
#define VIRTQ_INDIRECT_TABLES 64  /* indirect tables per queue (chains in flight that use one) */
#define VIRTQ_INDIRECT_MAX 16     /* descriptors per indirect table */
_Static_assert(VIRTQ_INDIRECT_TABLES >= 1 && VIRTQ_INDIRECT_TABLES <= 64, "indirect_free is a 64-bit mask");

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* The avail ring; used_event sits at ring[size] (so the struct is sized for the largest queue). */
struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[VIRTQ_MAX_SIZE + 1];
};

struct virtq_used_elem {
	uint32_t id;  /* head of the chain */
	uint32_t len; /* bytes the device wrote into the chain's device-writable buffers */
};

/* The used ring; avail_event sits right after ring[size - 1]. */
struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[VIRTQ_MAX_SIZE];
	uint16_t avail_event_at_max_size;
};

/* A buffer of a chain. Device-readable buffers must all come before device-writable ones. */
struct virtq_buffer {
	void *data;
	uint32_t length;
	bool device_writes; /* VIRTQ_DESC_F_WRITE */
};

/* A completed chain, from the used ring. */
struct virtq_completion {
	uint16_t head;
	uint32_t length; /* as the device reported it */
	void *token;     /* what virtq_add was given */
};

/* One queue: its rings (shared with the device) and the driver's bookkeeping. Big (about
 * 28 KiB, most of it the indirect tables): declare it static. The rings are zeroed by
 * virtio_queue_setup. */
struct virtq {
	struct virtq_desc desc[VIRTQ_MAX_SIZE] __attribute__((aligned(4096)));
	struct virtq_avail avail __attribute__((aligned(16)));
	struct virtq_used used __attribute__((aligned(16)));
	struct virtq_desc indirect[VIRTQ_INDIRECT_TABLES][VIRTQ_INDIRECT_MAX] __attribute__((aligned(16)));

	struct virtio_device *dev;
	uint16_t index;      /* queue index (QueueSel, QueueNotify value) */
	uint16_t size;       /* QueueNum */
	uint16_t free_head;  /* first free descriptor */
	uint16_t num_free;   /* free descriptors */
	uint16_t avail_idx;  /* next avail->idx (published as soon as a chain is added) */
	uint16_t kicked_idx; /* avail->idx at the last notification decision */
	uint16_t last_used;  /* next used->ring entry to read */
	bool interrupts;     /* whether used-buffer interrupts are wanted */
	uint64_t indirect_free; /* bit t: indirect table t is free */
	uint16_t next[VIRTQ_MAX_SIZE];        /* the free list / chain links (driver's copy) */
	uint16_t chain_length[VIRTQ_MAX_SIZE]; /* per head: descriptors in the ring's table */
	int8_t chain_indirect[VIRTQ_MAX_SIZE]; /* per head: indirect table, or -1 */
	bool in_flight[VIRTQ_MAX_SIZE];        /* per head */
	void *token[VIRTQ_MAX_SIZE];           /* per head */

	/* Statistics. */
	uint32_t chains_added;
	uint32_t chains_used;
	uint32_t notifications; /* QueueNotify writes */
	uint32_t suppressed;    /* notification decisions that found the device did not want one */
};

/*
 * Sets up queue `index` (4.2.3.2): QueueSel, checks it is not ready and QueueNumMax > 0,
 * QueueNum = min(QueueNumMax, size_limit, VIRTQ_MAX_SIZE), zeroes the rings, writes their
 * addresses and QueueReady = 1. Used-buffer interrupts start suppressed. Call between
 * virtio_begin and virtio_driver_ok.
 */
void virtio_queue_setup(struct virtio_device *dev, struct virtq *vq, uint16_t index, uint16_t size_limit);

/*
 * Adds a chain of `count` buffers and publishes it in the avail ring (avail->idx is written
 * after the descriptors and the ring entry, behind a write barrier); the device is not
 * notified until virtq_kick. With `indirect` (only when dev->indirect), the buffers go into an
 * indirect table and the chain takes one descriptor of the queue. Returns the chain's head,
 * or -1 when there is no room (descriptors or indirect tables) right now. A malformed request
 * (no buffers, too many, device-readable after device-writable, indirect not negotiated) is
 * a firmware bug: it fails.
 */
int virtq_add(struct virtq *vq, const struct virtq_buffer *buffers, unsigned count, bool indirect, void *token);

/*
 * Notifies the device of the chains added since the last call, if it wants to be (2.7.10:
 * with EVENT_IDX, vring_need_event(avail_event, new, old); otherwise unless the used ring's
 * flags say VIRTQ_USED_F_NO_NOTIFY). A full barrier orders the avail->idx store before the
 * read of avail_event / flags. Returns whether it wrote QueueNotify; counts suppressed ones.
 */
bool virtq_kick(struct virtq *vq);

/*
 * Takes the next used element, if the device has published one: reads used->idx, then
 * (read barrier) the element; checks the head is a chain in flight and frees its descriptors.
 */
bool virtq_get_used(struct virtq *vq, struct virtq_completion *out);

/*
 * Polls virtq_get_used until an element arrives, bounded (a TSC deadline of about 1-4 s and
 * a poll count), checking the device for DEVICE_NEEDS_RESET now and then. False on timeout.
 */
bool virtq_wait_used(struct virtq *vq, struct virtq_completion *out);

/*
 * Used-buffer interrupts: with EVENT_IDX through used_event (= last_used to be interrupted by
 * the next used buffer; = last_used + 0x8000, half the index space away, to suppress),
 * otherwise through VIRTQ_AVAIL_F_NO_INTERRUPT. virtq_enable_interrupts returns whether used elements are
 * already pending (after a full barrier), as Linux's virtqueue_enable_cb does.
 */
bool virtq_enable_interrupts(struct virtq *vq);
void virtq_disable_interrupts(struct virtq *vq);

/* Descriptors free / chains in flight. */
static inline unsigned virtq_free_descriptors(const struct virtq *vq)
{
	return vq->num_free;
}

#endif
