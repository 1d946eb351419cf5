/*
 * virtio_rng.c — fw.test=rng: the virtio-rng self-test (entropy device, ID 4, one queue
 * "requestq" whose buffers the device fills with random bytes).
 *
 * Exercises the driver core (virtio.c) with requests of several shapes, checks every
 * completion, and proves that the device's interrupt travels through the I/O APIC to the
 * local APIC (IF = 0 at CPL 3: the interrupt is never taken, it stays pending in the IRR).
 *
 *   1. one 64-byte buffer, with used-buffer interrupts enabled: then InterruptStatus bit 0
 *      must be set; it is acknowledged, and the vector must show up in the local APIC's IRR
 *   2. a chain of three buffers: 16 + 1 + 47 bytes
 *   3. four buffers (8 + 24 + 32 + 64 bytes) through an indirect table, or as a direct chain
 *      when VIRTIO_F_RING_INDIRECT_DESC was not negotiated (same requests and bytes either way,
 *      so the "fw: rng" lines do not depend on the platform)
 *   4. a batch of 8 requests (8, 16, ..., 64 bytes) added before one notification
 *   5. 8 requests of 16 bytes, each added and notified at once without waiting (with EVENT_IDX
 *      the device's avail_event suppresses the notifications it does not need)
 *
 * Each completion must name a chain in flight (its head), report exactly the bytes requested,
 * have filled them (not all zero: they are zeroed before posting) and not written past them
 * (16 guard bytes after every buffer).
 */
#include "virtio_rng.h"

#include "apic.h"
#include "arch.h"
#include "console.h"
#include "defs.h"
#include "lib.h"
#include "platform.h"
#include "smp.h"
#include "virtio.h"

#define RNG_QUEUE 0            /* requestq */
#define RNG_MAX_BUFFERS 4      /* per request */
#define RNG_MAX_REQUESTS 32
#define RNG_ARENA_SIZE 4096
#define RNG_GUARD_SIZE 16
#define RNG_GUARD_BYTE 0xa5
#define RNG_BATCH 8

/* Interrupt checks: polls (each an MMIO exit) and a TSC deadline (about 0.3-1 s). */
#define IRQ_WAIT_TSC_CYCLES 1000000000ull
#define IRQ_WAIT_MAX_POLLS 100000u

struct rng_request {
	struct virtq_buffer buffers[RNG_MAX_BUFFERS];
	unsigned count;
	uint32_t total; /* bytes requested */
	bool indirect;
	int head;       /* chain head while in flight */
	bool done;
};

static struct virtq rng_queue;
static uint8_t arena[RNG_ARENA_SIZE] __attribute__((aligned(64)));
static uint32_t arena_used;
static struct rng_request requests[RNG_MAX_REQUESTS];
static unsigned request_count;
static unsigned in_flight;
static uint32_t bytes_received;

__attribute__((noreturn)) static void rng_fail(const char *what)
{
	fw_printf("fw: rng FAIL %s\n", what);
	platform_debug_exit(FW_STATUS_RNG_FAILED);
}

/* A request of `count` device-writable buffers of the given lengths, zeroed, each followed by
 * guard bytes. */
static struct rng_request *new_request(const uint32_t *lengths, unsigned count, bool indirect)
{
	if (request_count == RNG_MAX_REQUESTS || count > RNG_MAX_BUFFERS)
		rng_fail("test bug: too many requests or buffers");
	struct rng_request *r = &requests[request_count++];
	*r = (struct rng_request){.count = count, .indirect = indirect, .head = -1};
	for (unsigned i = 0; i < count; i++) {
		if (lengths[i] + RNG_GUARD_SIZE > RNG_ARENA_SIZE - arena_used)
			rng_fail("test bug: buffer arena too small");
		uint8_t *data = arena + arena_used;
		memset(data, 0, lengths[i]);
		memset(data + lengths[i], RNG_GUARD_BYTE, RNG_GUARD_SIZE);
		arena_used += lengths[i] + RNG_GUARD_SIZE;
		r->buffers[i] = (struct virtq_buffer){.data = data, .length = lengths[i], .device_writes = true};
		r->total += lengths[i];
	}
	return r;
}

static void check_completion(const struct virtq_completion *c)
{
	struct rng_request *r = c->token;
	if (r < requests || r >= requests + request_count || r->done || r->head != (int)c->head) {
		fw_printf("fw~ rng: used head %u does not match the request it was posted as\n", (unsigned)c->head);
		rng_fail("used element does not match a posted chain head");
	}
	unsigned number = (unsigned)(r - requests) + 1;
	if (c->length != r->total) {
		fw_printf("fw: rng request %u: device wrote %u bytes, %u requested\n", number, (unsigned)c->length,
			  (unsigned)r->total);
		rng_fail("wrong used length");
	}
	bool nonzero = false;
	for (unsigned i = 0; i < r->count; i++) {
		const uint8_t *data = r->buffers[i].data;
		for (uint32_t j = 0; j < r->buffers[i].length; j++)
			nonzero |= data[j] != 0;
		for (uint32_t j = 0; j < RNG_GUARD_SIZE; j++) {
			if (data[r->buffers[i].length + j] != RNG_GUARD_BYTE) {
				fw_printf("fw: rng request %u buffer %u: written past its end\n", number, i + 1);
				rng_fail("device wrote past a buffer");
			}
		}
	}
	if (!nonzero) {
		fw_printf("fw: rng request %u: all %u bytes are zero\n", number, (unsigned)r->total);
		rng_fail("buffer not filled");
	}
	r->done = true;
	r->head = -1;
	in_flight--;
	bytes_received += c->length;
}

static void wait_one(void)
{
	struct virtq_completion c;
	if (!virtq_wait_used(&rng_queue, &c))
		rng_fail("timeout waiting for the device");
	check_completion(&c);
}

static void wait_all(void)
{
	while (in_flight > 0)
		wait_one();
}

/* Adds a request to the queue (when the queue is full: notifies and takes completions until
 * it fits), optionally notifying right away. */
static void submit(struct rng_request *r, bool kick)
{
	int head;
	while ((head = virtq_add(&rng_queue, r->buffers, r->count, r->indirect, r)) < 0) {
		if (in_flight == 0)
			rng_fail("queue too small for a request");
		virtq_kick(&rng_queue);
		wait_one();
	}
	r->head = head;
	in_flight++;
	if (kick)
		virtq_kick(&rng_queue);
}

/* Polls InterruptStatus until bit 0 (used buffer) is set, bounded; returns the last value. */
static uint32_t wait_interrupt_status(const struct virtio_device *dev)
{
	uint64_t start = rdtsc();
	uint32_t status = 0;
	for (unsigned i = 0; i < IRQ_WAIT_MAX_POLLS && rdtsc() - start < IRQ_WAIT_TSC_CYCLES; i++) {
		status = virtio_interrupt_status(dev);
		if (status & VIRTIO_INTERRUPT_USED_BUFFER)
			break;
		cpu_pause();
	}
	return status;
}

static bool wait_irr(unsigned vector)
{
	uint64_t start = rdtsc();
	for (unsigned i = 0; i < IRQ_WAIT_MAX_POLLS && rdtsc() - start < IRQ_WAIT_TSC_CYCLES; i++) {
		if (lapic_irr_pending(vector))
			return true;
		cpu_pause();
	}
	return false;
}

void virtio_rng_test(void)
{
	struct virtio_device *dev = virtio_find(VIRTIO_ID_RNG);
	if (dev == NULL)
		rng_fail("no virtio-rng device");

	/* Interrupt route: pin `irq` → vector 0x40 + irq on this CPU, before the device can
	 * raise the line (the pin is edge triggered: an already high line would be missed). */
	unsigned pins = ioapic_pin_count();
	if (dev->irq >= pins) {
		fw_printf("fw~ rng: irq %u, the I/O APIC has %u pins\n", (unsigned)dev->irq, pins);
		rng_fail("irq beyond the I/O APIC's pins");
	}
	unsigned vector = IRQ_VECTOR_BASE + dev->irq;
	lapic_enable();
	ioapic_route_edge(dev->irq, vector, smp_bsp_apic_id());
	if (lapic_irr_pending(vector))
		rng_fail("interrupt vector pending before the test");

	virtio_begin(dev, 0); /* virtio-rng has no device-specific features */
	virtio_queue_setup(dev, &rng_queue, RNG_QUEUE, VIRTQ_DEFAULT_SIZE);
	virtio_driver_ok(dev);
	fw_printf("fw~ rng: device 0x%lx irq %u vector 0x%x queue size %u\n", (unsigned long)dev->base,
		  (unsigned)dev->irq, vector, (unsigned)rng_queue.size);

	/* 1. One 64-byte buffer, interrupts wanted; then the interrupt's way to the LAPIC. */
	static const uint32_t single[] = {64};
	if (virtq_enable_interrupts(&rng_queue))
		rng_fail("used elements before any request");
	submit(new_request(single, 1, false), true);
	/* Wait for the interrupt before consuming the used element: consuming it moves used_event
	 * past it (interrupt on the *next* element), and a device that checks used_event after
	 * that may rightly decide no interrupt is due (virtio 2.7.10). */
	uint32_t status = wait_interrupt_status(dev);
	wait_all();
	if (!(status & VIRTIO_INTERRUPT_USED_BUFFER)) {
		fw_printf("fw~ rng: InterruptStatus 0x%x after the request completed\n", (unsigned)status);
		rng_fail("no interrupt");
	}
	virtio_interrupt_ack(dev, status & (VIRTIO_INTERRUPT_USED_BUFFER | VIRTIO_INTERRUPT_CONFIG_CHANGE));
	if (!wait_irr(vector)) {
		fw_printf("fw~ rng: InterruptStatus 0x%x, but vector 0x%x is not pending in the local APIC\n",
			  (unsigned)status, vector);
		rng_fail("no interrupt");
	}
	fw_printf("fw: rng interrupt delivered\n");
	virtq_disable_interrupts(&rng_queue);

	/* 2. A chain of three device-writable buffers. */
	static const uint32_t chain[] = {16, 1, 47};
	submit(new_request(chain, 3, false), true);
	wait_all();

	/* 3. Four buffers through an indirect table (a direct chain without INDIRECT_DESC). */
	static const uint32_t four[] = {8, 24, 32, 64};
	submit(new_request(four, 4, dev->indirect), true);
	wait_all();

	/* 4. A batch: eight requests, one notification. */
	for (unsigned i = 0; i < RNG_BATCH; i++) {
		uint32_t length = 8 * (i + 1);
		submit(new_request(&length, 1, false), false);
	}
	virtq_kick(&rng_queue);
	wait_all();

	/* 5. Eight requests notified one by one without waiting: notification suppression. */
	for (unsigned i = 0; i < RNG_BATCH; i++) {
		static const uint32_t sixteen[] = {16};
		submit(new_request(sixteen, 1, false), true);
	}
	wait_all();

	uint32_t status_after = virtio_interrupt_status(dev);
	virtio_reset(dev);
	ioapic_mask(dev->irq);

	fw_printf("fw: rng %u requests, %u bytes\n", request_count, (unsigned)bytes_received);
	fw_printf("fw~ rng: %u notifications, %u suppressed; %s; InterruptStatus 0x%x after the "
		  "interrupt-free requests\n",
		  (unsigned)rng_queue.notifications, (unsigned)rng_queue.suppressed,
		  dev->indirect ? "indirect table used" : "no indirect descriptors", (unsigned)status_after);
	fw_printf("fw: rng OK\n");
}
