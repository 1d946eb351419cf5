/*
 * virtio.c — the polling virtio-mmio driver core (see virtio.h).
 *
 * References: virtio 1.1/1.2, sections 2.1 (status), 2.2 (features), 2.7 (split virtqueues,
 * 2.7.7 used-buffer notification suppression, 2.7.10 available-buffer notification
 * suppression), 3.1.1 (driver initialisation), 4.2 (virtio over MMIO).
 *
 * Every register access is an MMIO exit (tens of µs from CPL 3 on PVM), so the hot paths
 * touch registers as little as possible: adding a chain and polling the used ring are plain
 * memory accesses, and only a notification writes QueueNotify.
 */
#include "virtio.h"

#include "arch.h"
#include "console.h"
#include "defs.h"
#include "lib.h"
#include "platform.h"

/* Bounds for polling: a TSC deadline (about 1.3 s at 3 GHz, 4 s at 1 GHz) and a poll count
 * as a backstop in case the TSC does not advance. */
#define WAIT_TSC_CYCLES 4000000000ull
#define WAIT_MAX_POLLS 200000000u
/* While polling the used ring (plain memory reads), look at the device's Status register
 * (an MMIO exit) every this many polls. */
#define STATUS_CHECK_INTERVAL 65536u
/* Register polls (each an exit) while waiting for a reset to complete. */
#define RESET_MAX_POLLS 1000000u
#define CONFIG_GENERATION_RETRIES 100
/*
 * used_event while used-buffer interrupts are suppressed: last_used + 0x8000. The device
 * interrupts when used_event lies in [old, new), where old is the used idx at its previous
 * interrupt decision and new its current one (vring_need_event). A device may push several
 * elements before deciding (QEMU does: one decision per batch), and the driver may consume
 * them meanwhile, so a used_event just behind the driver (last_used - 1) can fall into that
 * window and still raise an interrupt (seen under QEMU). Half the index space ahead can only
 * be reached after more than 32768 elements without a decision.
 */
#define USED_EVENT_NEVER 0x8000

static struct virtio_device devices[VIRTIO_MAX_DEVICES];
static unsigned device_count;
static bool features_plain; /* fw.virtio-features=plain */

/* ---- Registers ------------------------------------------------------------------------------ */

uint32_t virtio_read32(const struct virtio_device *dev, uint32_t reg)
{
	return mmio_read32(dev->base + reg);
}

void virtio_write32(const struct virtio_device *dev, uint32_t reg, uint32_t value)
{
	mmio_write32(dev->base + reg, value);
}

void virtio_fail(const struct virtio_device *dev, const char *what)
{
	fw_printf("fw: FAIL virtio 0x%lx %s\n", (unsigned long)dev->base, what);
	/* Tell the device the driver gave up (2.1: FAILED), for whoever looks at it. */
	virtio_write32(dev, VIRTIO_MMIO_STATUS, virtio_read32(dev, VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_FAILED);
	platform_debug_exit(FW_STATUS_VIRTIO_FAILED);
}

void virtio_check_status(const struct virtio_device *dev)
{
	if (virtio_read32(dev, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		virtio_fail(dev, "needs reset");
}

uint32_t virtio_interrupt_status(const struct virtio_device *dev)
{
	return virtio_read32(dev, VIRTIO_MMIO_INTERRUPT_STATUS);
}

void virtio_interrupt_ack(const struct virtio_device *dev, uint32_t bits)
{
	virtio_write32(dev, VIRTIO_MMIO_INTERRUPT_ACK, bits);
}

uint8_t virtio_config_read8(const struct virtio_device *dev, uint32_t offset)
{
	return mmio_read8(dev->base + VIRTIO_MMIO_CONFIG + offset);
}

uint16_t virtio_config_read16(const struct virtio_device *dev, uint32_t offset)
{
	return mmio_read16(dev->base + VIRTIO_MMIO_CONFIG + offset);
}

uint32_t virtio_config_read32(const struct virtio_device *dev, uint32_t offset)
{
	return mmio_read32(dev->base + VIRTIO_MMIO_CONFIG + offset);
}

void virtio_config_read(const struct virtio_device *dev, uint32_t offset, void *out, uint32_t length)
{
	uint8_t *bytes = out;
	for (unsigned attempt = 0; attempt < CONFIG_GENERATION_RETRIES; attempt++) {
		uint32_t generation = virtio_read32(dev, VIRTIO_MMIO_CONFIG_GENERATION);
		for (uint32_t i = 0; i < length; i++)
			bytes[i] = virtio_config_read8(dev, offset + i);
		if (virtio_read32(dev, VIRTIO_MMIO_CONFIG_GENERATION) == generation)
			return;
	}
	virtio_fail(dev, "config generation keeps changing");
}

uint64_t virtio_config_read64(const struct virtio_device *dev, uint32_t offset)
{
	for (unsigned attempt = 0; attempt < CONFIG_GENERATION_RETRIES; attempt++) {
		uint32_t generation = virtio_read32(dev, VIRTIO_MMIO_CONFIG_GENERATION);
		uint32_t low = virtio_config_read32(dev, offset);
		uint32_t high = virtio_config_read32(dev, offset + 4);
		if (virtio_read32(dev, VIRTIO_MMIO_CONFIG_GENERATION) == generation)
			return ((uint64_t)high << 32) | low;
	}
	virtio_fail(dev, "config generation keeps changing");
}

/* ---- Discovery ------------------------------------------------------------------------------ */

void virtio_discover(const struct fw_options *options)
{
	features_plain = options->virtio_plain;
	device_count = 0;
	for (uint32_t i = 0; i < options->virtio_mmio_count; i++) {
		const struct virtio_mmio_token *token = &options->virtio_mmio[i];
		struct virtio_device *dev = &devices[device_count++];
		*dev = (struct virtio_device){.base = (uintptr_t)token->base, .size = token->size, .irq = token->irq};
		uint32_t magic = virtio_read32(dev, VIRTIO_MMIO_MAGIC_VALUE);
		if (magic != VIRTIO_MMIO_MAGIC) {
			fw_printf("fw~ virtio-mmio: 0x%lx irq %u: bad magic value 0x%x, ignored\n",
				  (unsigned long)dev->base, (unsigned)dev->irq, (unsigned)magic);
			continue; /* device_id stays 0: never used */
		}
		dev->version = virtio_read32(dev, VIRTIO_MMIO_VERSION);
		dev->device_id = virtio_read32(dev, VIRTIO_MMIO_DEVICE_ID);
		if (dev->device_id == 0)
			continue; /* a transport with no device behind it */
		dev->vendor_id = virtio_read32(dev, VIRTIO_MMIO_VENDOR_ID);
		fw_printf("fw~ virtio-mmio: 0x%lx irq %u device %u version %u\n", (unsigned long)dev->base,
			  (unsigned)dev->irq, (unsigned)dev->device_id, (unsigned)dev->version);
	}
	if (options->virtio_mmio_dropped > 0)
		fw_printf("fw~ virtio-mmio: %u more devices not kept\n", (unsigned)options->virtio_mmio_dropped);
}

struct virtio_device *virtio_find(uint32_t device_id)
{
	for (unsigned i = 0; i < device_count; i++) {
		if (devices[i].device_id == device_id && device_id != 0)
			return &devices[i];
	}
	return NULL;
}

struct virtio_device *virtio_find_nth(uint32_t device_id, unsigned n)
{
	for (unsigned i = 0; i < device_count && device_id != 0; i++) {
		if (devices[i].device_id == device_id && n-- == 0)
			return &devices[i];
	}
	return NULL;
}

/* ---- Initialisation ------------------------------------------------------------------------- */

static void set_status(const struct virtio_device *dev, uint32_t status)
{
	virtio_write32(dev, VIRTIO_MMIO_STATUS, status);
}

void virtio_reset(struct virtio_device *dev)
{
	set_status(dev, 0);
	/* 4.2.2.1: the driver must wait until Status reads 0 before re-initialising. */
	for (unsigned i = 0; i < RESET_MAX_POLLS; i++) {
		if (virtio_read32(dev, VIRTIO_MMIO_STATUS) == 0)
			return;
		cpu_pause();
	}
	virtio_fail(dev, "reset did not complete (Status never read 0)");
}

void virtio_begin(struct virtio_device *dev, uint64_t device_features_wanted)
{
	if (virtio_read32(dev, VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC)
		virtio_fail(dev, "has a bad magic value");
	if (dev->version == VIRTIO_MMIO_VERSION_LEGACY) {
		fw_printf("fw: FAIL virtio-mmio 0x%lx is legacy\n", (unsigned long)dev->base);
		platform_debug_exit(FW_STATUS_VIRTIO_FAILED);
	}
	if (dev->version != VIRTIO_MMIO_VERSION_MODERN) {
		fw_printf("fw: FAIL virtio-mmio 0x%lx version %u unsupported\n", (unsigned long)dev->base,
			  (unsigned)dev->version);
		platform_debug_exit(FW_STATUS_VIRTIO_FAILED);
	}

	/* 3.1.1: reset, ACKNOWLEDGE, DRIVER. */
	virtio_reset(dev);
	uint32_t status = VIRTIO_STATUS_ACKNOWLEDGE;
	set_status(dev, status);
	status |= VIRTIO_STATUS_DRIVER;
	set_status(dev, status);

	/* Features: both 32-bit pages. */
	virtio_write32(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint64_t offered = virtio_read32(dev, VIRTIO_MMIO_DEVICE_FEATURES);
	virtio_write32(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	offered |= (uint64_t)virtio_read32(dev, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	dev->device_features = offered;
	if (!(offered & VIRTIO_FEATURE(VIRTIO_F_VERSION_1))) {
		fw_printf("fw~ virtio 0x%lx: device features 0x%016llx\n", (unsigned long)dev->base,
			  (unsigned long long)offered);
		virtio_fail(dev, "does not offer VIRTIO_F_VERSION_1");
	}
	uint64_t wanted = VIRTIO_FEATURE(VIRTIO_F_VERSION_1) | (device_features_wanted & 0xffffffull);
	if (!features_plain)
		wanted |= VIRTIO_FEATURE(VIRTIO_F_RING_EVENT_IDX) | VIRTIO_FEATURE(VIRTIO_F_RING_INDIRECT_DESC);
	uint64_t accepted = offered & wanted;
	virtio_write32(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	virtio_write32(dev, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)accepted);
	virtio_write32(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	virtio_write32(dev, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(accepted >> 32));
	fw_printf("fw~ virtio 0x%lx: device features 0x%016llx, accepted 0x%016llx%s%s\n",
		  (unsigned long)dev->base, (unsigned long long)offered, (unsigned long long)accepted,
		  (accepted & VIRTIO_FEATURE(VIRTIO_F_RING_EVENT_IDX)) ? " event-idx" : "",
		  (accepted & VIRTIO_FEATURE(VIRTIO_F_RING_INDIRECT_DESC)) ? " indirect-desc" : "");

	/* FEATURES_OK, and read it back: a device that cannot work with this subset clears it. */
	status |= VIRTIO_STATUS_FEATURES_OK;
	set_status(dev, status);
	uint32_t readback = virtio_read32(dev, VIRTIO_MMIO_STATUS);
	if (readback & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		virtio_fail(dev, "needs reset");
	if (!(readback & VIRTIO_STATUS_FEATURES_OK))
		virtio_fail(dev, "did not accept the features (FEATURES_OK cleared)");

	dev->features = accepted;
	dev->event_idx = (accepted & VIRTIO_FEATURE(VIRTIO_F_RING_EVENT_IDX)) != 0;
	dev->indirect = (accepted & VIRTIO_FEATURE(VIRTIO_F_RING_INDIRECT_DESC)) != 0;
}

void virtio_driver_ok(struct virtio_device *dev)
{
	uint32_t status = virtio_read32(dev, VIRTIO_MMIO_STATUS);
	set_status(dev, status | VIRTIO_STATUS_DRIVER_OK);
	virtio_check_status(dev);
}

/* ---- Split virtqueue ------------------------------------------------------------------------ */

/* used_event: the avail ring's last field (after ring[size]). Written by the driver. */
static volatile uint16_t *used_event(struct virtq *vq)
{
	return (volatile uint16_t *)&vq->avail.ring[vq->size];
}

/* avail_event: the used ring's last field (after ring[size - 1]). Written by the device. */
static volatile uint16_t *avail_event(struct virtq *vq)
{
	return (volatile uint16_t *)((uintptr_t)&vq->used + __builtin_offsetof(struct virtq_used, ring) +
				     vq->size * sizeof(struct virtq_used_elem));
}

static void write_address(const struct virtio_device *dev, uint32_t low_reg, const void *p)
{
	uint64_t address = (uint64_t)(uintptr_t)p; /* identity mapped: virtual == physical */
	virtio_write32(dev, low_reg, (uint32_t)address);
	virtio_write32(dev, low_reg + 4, (uint32_t)(address >> 32));
}

void virtio_queue_setup(struct virtio_device *dev, struct virtq *vq, uint16_t index, uint16_t size_limit)
{
	virtio_write32(dev, VIRTIO_MMIO_QUEUE_SEL, index);
	if (virtio_read32(dev, VIRTIO_MMIO_QUEUE_READY) != 0)
		virtio_fail(dev, "queue already ready before set-up");
	uint32_t max = virtio_read32(dev, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (max == 0)
		virtio_fail(dev, "queue not available (QueueNumMax 0)");
	uint32_t size = max;
	if (size > size_limit)
		size = size_limit;
	if (size > VIRTQ_MAX_SIZE)
		size = VIRTQ_MAX_SIZE;
	/* A split queue's size is a power of two (2.7); round a non-conforming maximum down. */
	while (size & (size - 1))
		size &= size - 1;
	if (size == 0)
		virtio_fail(dev, "queue size limit 0");

	/* The rings start zeroed (2.7: the driver initialises them). */
	memset(vq->desc, 0, sizeof(vq->desc));
	memset(&vq->avail, 0, sizeof(vq->avail));
	memset(&vq->used, 0, sizeof(vq->used));
	vq->dev = dev;
	vq->index = index;
	vq->size = (uint16_t)size;
	vq->free_head = 0;
	vq->num_free = (uint16_t)size;
	for (uint32_t i = 0; i < size; i++) {
		vq->next[i] = (uint16_t)(i + 1 < size ? i + 1 : 0);
		vq->in_flight[i] = false;
		vq->chain_indirect[i] = -1;
		vq->token[i] = NULL;
	}
	vq->indirect_free = ~0ull >> (64 - VIRTQ_INDIRECT_TABLES);
	vq->avail_idx = 0;
	vq->kicked_idx = 0;
	vq->last_used = 0;
	vq->chains_added = vq->chains_used = vq->notifications = vq->suppressed = 0;
	virtq_disable_interrupts(vq); /* a polling driver: no used-buffer interrupts by default */
	barrier_write();

	virtio_write32(dev, VIRTIO_MMIO_QUEUE_NUM, size);
	write_address(dev, VIRTIO_MMIO_QUEUE_DESC_LOW, vq->desc);
	write_address(dev, VIRTIO_MMIO_QUEUE_DRIVER_LOW, &vq->avail);
	write_address(dev, VIRTIO_MMIO_QUEUE_DEVICE_LOW, &vq->used);
	virtio_write32(dev, VIRTIO_MMIO_QUEUE_READY, 1);
	fw_printf("fw~ virtio 0x%lx: queue %u size %u (max %u)\n", (unsigned long)dev->base, (unsigned)index,
		  (unsigned)size, (unsigned)max);
}

int virtq_add(struct virtq *vq, const struct virtq_buffer *buffers, unsigned count, bool indirect, void *token)
{
	/* 2.7.5.3.1: no chain (an indirect one included) longer than the queue size. */
	if (count == 0 || count > vq->size || (indirect && count > VIRTQ_INDIRECT_MAX))
		virtio_fail(vq->dev, "driver bug: chain with no or too many buffers");
	if (indirect && !vq->dev->indirect)
		virtio_fail(vq->dev, "driver bug: indirect chain without VIRTIO_F_RING_INDIRECT_DESC");
	for (unsigned i = 1; i < count; i++) {
		if (buffers[i - 1].device_writes && !buffers[i].device_writes)
			virtio_fail(vq->dev, "driver bug: device-readable buffer after a device-writable one");
	}
	if (vq->num_free < (indirect ? 1 : count) || (indirect && vq->indirect_free == 0))
		return -1;

	uint16_t head = vq->free_head;
	if (indirect) {
		unsigned table = (unsigned)__builtin_ctzll(vq->indirect_free);
		vq->indirect_free &= ~(1ull << table);
		struct virtq_desc *entries = vq->indirect[table];
		for (unsigned i = 0; i < count; i++) {
			bool last = i + 1 == count;
			entries[i] = (struct virtq_desc){
				.addr = (uint64_t)(uintptr_t)buffers[i].data,
				.len = buffers[i].length,
				.flags = (uint16_t)((buffers[i].device_writes ? VIRTQ_DESC_F_WRITE : 0) |
						    (last ? 0 : VIRTQ_DESC_F_NEXT)),
				.next = (uint16_t)(last ? 0 : i + 1),
			};
		}
		vq->desc[head] = (struct virtq_desc){
			.addr = (uint64_t)(uintptr_t)entries,
			.len = (uint32_t)(count * sizeof(struct virtq_desc)),
			.flags = VIRTQ_DESC_F_INDIRECT,
			.next = 0,
		};
		vq->free_head = vq->next[head];
		vq->num_free--;
		vq->chain_length[head] = 1;
		vq->chain_indirect[head] = (int8_t)table;
	} else {
		/* The free list's order is the chain's order: next[] links the descriptors. */
		uint16_t d = head;
		for (unsigned i = 0; i < count; i++) {
			bool last = i + 1 == count;
			vq->desc[d] = (struct virtq_desc){
				.addr = (uint64_t)(uintptr_t)buffers[i].data,
				.len = buffers[i].length,
				.flags = (uint16_t)((buffers[i].device_writes ? VIRTQ_DESC_F_WRITE : 0) |
						    (last ? 0 : VIRTQ_DESC_F_NEXT)),
				.next = last ? 0 : vq->next[d],
			};
			d = vq->next[d];
		}
		vq->free_head = d;
		vq->num_free = (uint16_t)(vq->num_free - count);
		vq->chain_length[head] = (uint16_t)count;
		vq->chain_indirect[head] = -1;
	}
	vq->in_flight[head] = true;
	vq->token[head] = token;

	/* 2.7.13: descriptors and the ring entry first, then (write barrier) the index. */
	vq->avail.ring[vq->avail_idx % vq->size] = head;
	barrier_write();
	vq->avail_idx++;
	*(volatile uint16_t *)&vq->avail.idx = vq->avail_idx;
	vq->chains_added++;
	return head;
}

bool virtq_kick(struct virtq *vq)
{
	/* 2.7.13.4: the avail->idx store must be visible before avail_event / flags is read. */
	barrier_full();
	uint16_t new_idx = vq->avail_idx;
	uint16_t old_idx = vq->kicked_idx;
	vq->kicked_idx = new_idx;
	if (new_idx == old_idx)
		return false; /* nothing added since the last decision */
	bool notify;
	if (vq->dev->event_idx) {
		/* vring_need_event: notify iff avail_event lies in [old_idx, new_idx). */
		uint16_t event = *avail_event(vq);
		notify = (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
	} else {
		notify = !(*(volatile uint16_t *)&vq->used.flags & VIRTQ_USED_F_NO_NOTIFY);
	}
	if (!notify) {
		vq->suppressed++;
		return false;
	}
	virtio_write32(vq->dev, VIRTIO_MMIO_QUEUE_NOTIFY, vq->index);
	vq->notifications++;
	return true;
}

bool virtq_get_used(struct virtq *vq, struct virtq_completion *out)
{
	uint16_t used_idx = *(volatile uint16_t *)&vq->used.idx;
	if (used_idx == vq->last_used)
		return false;
	barrier_read(); /* the index before the element it covers */
	if ((uint16_t)(used_idx - vq->last_used) > vq->size) {
		fw_printf("fw~ virtio 0x%lx: used idx %u, last used %u, queue size %u\n", (unsigned long)vq->dev->base,
			  (unsigned)used_idx, (unsigned)vq->last_used, (unsigned)vq->size);
		virtio_fail(vq->dev, "used idx moved by more than the queue size");
	}
	const volatile struct virtq_used_elem *elem = &vq->used.ring[vq->last_used % vq->size];
	uint32_t id = elem->id;
	uint32_t length = elem->len;
	if (id >= vq->size || !vq->in_flight[id]) {
		fw_printf("fw~ virtio 0x%lx: used element %u has id %u\n", (unsigned long)vq->dev->base,
			  (unsigned)vq->last_used, (unsigned)id);
		virtio_fail(vq->dev, "used element names no chain in flight");
	}

	/* Free the chain: its descriptors go back to the front of the free list. */
	uint16_t head = (uint16_t)id;
	uint16_t last = head;
	for (unsigned i = 1; i < vq->chain_length[head]; i++)
		last = vq->next[last];
	vq->next[last] = vq->free_head;
	vq->free_head = head;
	vq->num_free = (uint16_t)(vq->num_free + vq->chain_length[head]);
	if (vq->chain_indirect[head] >= 0)
		vq->indirect_free |= 1ull << vq->chain_indirect[head];
	vq->chain_indirect[head] = -1;
	vq->in_flight[head] = false;
	out->head = head;
	out->length = length;
	out->token = vq->token[head];
	vq->token[head] = NULL;

	vq->last_used++;
	vq->chains_used++;
	if (vq->dev->event_idx)
		*used_event(vq) = vq->interrupts ? vq->last_used : (uint16_t)(vq->last_used + USED_EVENT_NEVER);
	return true;
}

bool virtq_wait_used(struct virtq *vq, struct virtq_completion *out)
{
	uint64_t start = rdtsc();
	for (uint32_t polls = 1; polls <= WAIT_MAX_POLLS; polls++) {
		if (virtq_get_used(vq, out))
			return true;
		if (polls % STATUS_CHECK_INTERVAL == 0) {
			virtio_check_status(vq->dev);
			if (rdtsc() - start > WAIT_TSC_CYCLES)
				break;
		}
		cpu_pause();
	}
	virtio_check_status(vq->dev);
	return virtq_get_used(vq, out);
}

bool virtq_enable_interrupts(struct virtq *vq)
{
	vq->interrupts = true;
	if (vq->dev->event_idx)
		*used_event(vq) = vq->last_used; /* interrupt when the next used element arrives */
	else
		*(volatile uint16_t *)&vq->avail.flags = 0;
	/* The write must be visible before used->idx is read again (2.7.7.3). */
	barrier_full();
	return *(volatile uint16_t *)&vq->used.idx != vq->last_used;
}

void virtq_disable_interrupts(struct virtq *vq)
{
	vq->interrupts = false;
	if (vq->dev->event_idx) {
		/* 2.7.7: with EVENT_IDX the flags must stay 0; suppression is a used_event half the
		 * index space away from the driver's position (kept there as it moves, in
		 * virtq_get_used). See USED_EVENT_NEVER. */
		*(volatile uint16_t *)&vq->avail.flags = 0;
		*used_event(vq) = (uint16_t)(vq->last_used + USED_EVENT_NEVER);
	} else {
		*(volatile uint16_t *)&vq->avail.flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	}
}
