/*
 * blk_test.c — fw.test=blk, the virtio-blk self-test, and fw.blk-bench, a sequential read or
 * write benchmark, both on the polling driver (virtio_blk.c).
 *
 * The self-test, for every virtio-blk device i (in command-line order):
 *   1. capacity (and whether the device is read-only), GET_ID
 *   2. writable: the pattern over the tested area (min(capacity, fw.blk-mib MiB)) in requests
 *      of 1, 8, 64 and 256 sectors (cycling) with up to max_in_flight of them in flight; FLUSH
 *      (with fw.blk-flush-behind, another FLUSH behind writes still in flight, which must complete
 *      after all of them);
 *      read back in the same way and compared; DISCARD + WRITE_ZEROES of the last 8 sectors
 *      (read back as zeros); a read at sector = capacity must fail with IOERR
 *   3. read-only: a write to sector 0 must fail with IOERR, a read of it must succeed
 *
 * The pattern: 512-byte sector s of disk i holds 64 little-endian u64 words, word w =
 * (s << 16) | (i << 8) | w. firmware/tools/check-blk-pattern.py checks it in an image file.
 *
 * Data buffers live in free RAM above the image (boot_info_free_ram): a 256-sector request
 * alone is 128 KiB and the image must stay below 2 MiB.
 */
#include "blk_test.h"

#include "arch.h"
#include "bootinfo.h"
#include "console.h"
#include "defs.h"
#include "lib.h"
#include "platform.h"
#include "virtio.h"
#include "virtio_blk.h"

#define WORDS_PER_SECTOR (BLK_SECTOR_SIZE / 8)
#define TEST_TAIL_SECTORS 8 /* DISCARD / WRITE_ZEROES at the end of the tested area */
#define PAGE_SIZE 4096u
#define FILL_BYTE 0xa5      /* read buffers are filled with this before a read */

static struct virtq blk_queue;
static struct blk_request slots[BLK_MAX_IN_FLIGHT];
static struct blk_request single;
static uint8_t id_buffer[VIRTIO_BLK_ID_BYTES];
static char names[VIRTIO_MAX_DEVICES][8];

static uint8_t *arena;
static uint64_t arena_size;

#define BLK_FAIL(blk, format, ...)                                                                    \
	do {                                                                                          \
		fw_printf("fw: %s FAIL " format "\n", (blk)->name, __VA_ARGS__);                     \
		platform_debug_exit(FW_STATUS_BLK_FAILED);                                            \
	} while (0)

__attribute__((noreturn)) static void fail_plain(const char *who, const char *what)
{
	fw_printf("fw: %s FAIL %s\n", who, what);
	platform_debug_exit(FW_STATUS_BLK_FAILED);
}

static const char *type_name(uint32_t type)
{
	switch (type) {
	case VIRTIO_BLK_T_IN: return "read";
	case VIRTIO_BLK_T_OUT: return "write";
	case VIRTIO_BLK_T_FLUSH: return "flush";
	case VIRTIO_BLK_T_GET_ID: return "get-id";
	case VIRTIO_BLK_T_DISCARD: return "discard";
	case VIRTIO_BLK_T_WRITE_ZEROES: return "write-zeroes";
	default: return "request";
	}
}

/* The request's first sector and sector count, for messages. */
static uint64_t request_sector(const struct blk_request *r)
{
	uint32_t type = r->header.type;
	return type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES ? r->range.sector : r->header.sector;
}

static uint32_t request_sectors(const struct blk_request *r)
{
	uint32_t type = r->header.type;
	return type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES ? r->range.num_sectors
										 : r->bytes / BLK_SECTOR_SIZE;
}

/* Checks a completed request's used length, then its status against `expected`. */
static void check_completion(struct blk_device *blk, const struct blk_request *r, uint8_t expected)
{
	if (r->status != expected)
		BLK_FAIL(blk, "%s of %u sectors at sector %llu: status %u, expected %u", type_name(r->header.type),
			 (unsigned)request_sectors(r), (unsigned long long)request_sector(r), (unsigned)r->status,
			 (unsigned)expected);
	if (!blk_used_length_ok(r))
		BLK_FAIL(blk, "%s of %u sectors at sector %llu: used length %u, device-writable bytes %u",
			 type_name(r->header.type), (unsigned)request_sectors(r),
			 (unsigned long long)request_sector(r), (unsigned)r->used_length,
			 (unsigned)blk_writable_bytes(r));
}

/* One request on its own; fails on a timeout or a status other than `expected`. */
static void execute_expect(struct blk_device *blk, uint32_t type, uint64_t sector, void *data, uint32_t bytes,
			   uint8_t expected)
{
	blk_prepare(&single, type, sector, data, bytes);
	if (blk_execute(blk, &single) < 0)
		BLK_FAIL(blk, "timeout waiting for a %s at sector %llu", type_name(type), (unsigned long long)sector);
	check_completion(blk, &single, expected);
}

/* ---- Buffers and the pattern ---------------------------------------------------------------- */

static void arena_init(const char *who)
{
	if (arena != NULL)
		return;
	uint64_t base, size;
	if (!boot_info_free_ram(&base, &size))
		fail_plain(who, "no free RAM for data buffers (memory map)");
	arena = (uint8_t *)(uintptr_t)base;
	arena_size = size;
}

static uint64_t round_up(uint64_t value, uint64_t to)
{
	return (value + to - 1) / to * to;
}

static void fill_pattern(void *buffer, uint64_t sector, uint32_t sectors, unsigned disk)
{
	uint64_t *words = buffer;
	for (uint32_t s = 0; s < sectors; s++) {
		uint64_t base = ((sector + s) << 16) | ((uint64_t)disk << 8);
		for (uint32_t w = 0; w < WORDS_PER_SECTOR; w++)
			*words++ = base | w;
	}
}

static void check_pattern(struct blk_device *blk, const void *buffer, uint64_t sector, uint32_t sectors,
			  unsigned disk)
{
	const uint64_t *words = buffer;
	for (uint32_t s = 0; s < sectors; s++) {
		uint64_t base = ((sector + s) << 16) | ((uint64_t)disk << 8);
		for (uint32_t w = 0; w < WORDS_PER_SECTOR; w++, words++) {
			if (*words != (base | w))
				BLK_FAIL(blk, "sector %llu word %u: read 0x%016llx, expected 0x%016llx",
					 (unsigned long long)(sector + s), (unsigned)w, (unsigned long long)*words,
					 (unsigned long long)(base | w));
		}
	}
}

/* ---- Sequential transfers with several requests in flight ----------------------------------- */

struct transfer {
	struct blk_device *blk;
	bool write;
	bool verify;      /* reads: compare with the pattern */
	unsigned disk;    /* the pattern's disk index */
	uint64_t first;   /* sectors [first, end) */
	uint64_t end;
	const uint32_t *sizes; /* request sizes in sectors, cycled */
	unsigned size_count;
	unsigned depth;   /* requests in flight at most (<= blk->max_in_flight, <= slots) */
	uint64_t stride;  /* slot k's buffer: arena + k * stride */
	uint64_t requests; /* out: requests made */
};

static void transfer_complete(struct transfer *t, struct blk_request *r)
{
	check_completion(t->blk, r, VIRTIO_BLK_S_OK);
	if (!t->write && t->verify)
		check_pattern(t->blk, r->data, r->header.sector, r->bytes / BLK_SECTOR_SIZE, t->disk);
}

static void transfer_run(struct transfer *t)
{
	unsigned free_slots[BLK_MAX_IN_FLIGHT];
	unsigned free_count = 0;
	for (unsigned k = t->depth; k-- > 0;)
		free_slots[free_count++] = k;
	uint64_t next = t->first;
	unsigned size_index = 0;
	t->requests = 0;
	for (;;) {
		bool added = false;
		while (free_count > 0 && next < t->end) {
			unsigned slot = free_slots[--free_count];
			uint64_t sectors = t->sizes[size_index];
			size_index = (size_index + 1) % t->size_count;
			if (sectors > t->end - next)
				sectors = t->end - next;
			uint8_t *buffer = arena + (uint64_t)slot * t->stride;
			if (t->write)
				fill_pattern(buffer, next, (uint32_t)sectors, t->disk);
			struct blk_request *r = &slots[slot];
			blk_prepare(r, t->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, next, buffer,
				    (uint32_t)(sectors * BLK_SECTOR_SIZE));
			r->tag = slot;
			if (!blk_submit(t->blk, r))
				BLK_FAIL(t->blk, "queue full with %u requests in flight", t->blk->in_flight);
			next += sectors;
			t->requests++;
			added = true;
		}
		if (added)
			blk_kick(t->blk);
		if (t->blk->in_flight == 0)
			return;
		/* Wait for one completion, then take every one already there before refilling. */
		struct blk_request *r = blk_wait(t->blk);
		if (r == NULL)
			BLK_FAIL(t->blk, "timeout waiting for the device (%u requests in flight)", t->blk->in_flight);
		do {
			transfer_complete(t, r);
			free_slots[free_count++] = r->tag;
		} while ((r = blk_poll(t->blk)) != NULL);
	}
}

/* ---- fw.test=blk ---------------------------------------------------------------------------- */

/* Sectors per logical block: requests are kept multiples of it (a device may reject smaller
 * or misaligned ones, as QEMU does with logical_block_size > 512). */
static uint32_t sector_unit(const struct blk_device *blk)
{
	uint32_t b = blk->blk_size;
	if (b > BLK_SECTOR_SIZE && b <= 65536 && (b & (b - 1)) == 0)
		return b / BLK_SECTOR_SIZE;
	return 1;
}

/* The largest chunk (in sectors, a multiple of `unit`) of a DISCARD / WRITE_ZEROES range. */
static uint64_t range_chunk(uint32_t max_sectors, uint32_t unit)
{
	if (max_sectors == 0)
		return ~0ull; /* no limit stated */
	uint64_t chunk = max_sectors - max_sectors % unit;
	return chunk == 0 ? unit : chunk;
}

static void range_request(struct blk_device *blk, uint32_t type, uint64_t sector, uint64_t count,
			  uint64_t chunk)
{
	while (count > 0) {
		uint64_t n = count < chunk ? count : chunk;
		execute_expect(blk, type, sector, NULL, (uint32_t)(n * BLK_SECTOR_SIZE), VIRTIO_BLK_S_OK);
		sector += n;
		count -= n;
	}
}

static void print_id(struct blk_device *blk, unsigned disk)
{
	memset(id_buffer, 0, sizeof(id_buffer));
	blk_prepare(&single, VIRTIO_BLK_T_GET_ID, 0, id_buffer, sizeof(id_buffer));
	int status = blk_execute(blk, &single);
	if (status < 0)
		BLK_FAIL(blk, "timeout waiting for %s", "get-id");
	if (status == VIRTIO_BLK_S_UNSUPP) {
		check_completion(blk, &single, VIRTIO_BLK_S_UNSUPP);
		fw_printf("fw: blk%u id unsupported\n", disk);
		return;
	}
	check_completion(blk, &single, VIRTIO_BLK_S_OK);
	unsigned length = 0;
	while (length < VIRTIO_BLK_ID_BYTES && id_buffer[length] != 0)
		length++;
	if (length == 0)
		fw_printf("fw: blk%u id (none)\n", disk);
	else
		fw_printf("fw: blk%u id %.*s\n", disk, (int)length, (const char *)id_buffer);
}

/* FLUSH behind writes still in flight: up to depth - 1 writes (the pattern again, so nothing
 * changes) and a FLUSH made available together; the FLUSH must complete only after every one of
 * them (virtio-blk's FLUSH covers the writes completed before it; a device that starts its
 * fdatasync while earlier writes are still in flight fails here). */
static void flush_behind_writes(struct blk_device *blk, unsigned disk, uint64_t area, uint64_t stride, unsigned depth,
				uint32_t unit)
{
	unsigned limit = depth < blk->max_in_flight ? depth : blk->max_in_flight - 1;
	uint32_t sectors = 8 * unit;
	unsigned submitted = 0;
	for (uint64_t sector = 0; submitted < limit && sector + sectors <= area; sector += sectors) {
		uint8_t *buffer = arena + (uint64_t)submitted * stride;
		fill_pattern(buffer, sector, sectors, disk);
		blk_prepare(&slots[submitted], VIRTIO_BLK_T_OUT, sector, buffer, sectors * BLK_SECTOR_SIZE);
		slots[submitted].tag = submitted;
		if (!blk_submit(blk, &slots[submitted]))
			BLK_FAIL(blk, "queue full with %u requests in flight", blk->in_flight);
		submitted++;
	}
	blk_prepare(&single, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
	single.tag = BLK_MAX_IN_FLIGHT;
	if (!blk_submit(blk, &single))
		BLK_FAIL(blk, "queue full with %u requests in flight", blk->in_flight);
	blk_kick(blk);
	unsigned writes_done = 0;
	bool flushed = false;
	while (!flushed || writes_done < submitted) {
		struct blk_request *r = blk_wait(blk);
		if (r == NULL)
			BLK_FAIL(blk, "timeout waiting for the device (%u requests in flight)", blk->in_flight);
		do {
			check_completion(blk, r, VIRTIO_BLK_S_OK);
			if (r == &single) {
				if (writes_done != submitted)
					BLK_FAIL(blk, "flush completed with %u of %u earlier writes in flight",
						 submitted - writes_done, submitted);
				flushed = true;
			} else {
				writes_done++;
			}
		} while ((r = blk_poll(blk)) != NULL);
	}
	fw_printf("fw: blk%u flush behind %u writes ok\n", disk, submitted);
}

static void test_writable(struct blk_device *blk, unsigned disk, const struct fw_options *options)
{
	uint32_t unit = sector_unit(blk);
	static const uint32_t base_sizes[] = {1, 8, 64, 256};
	uint32_t sizes[ARRAY_SIZE(base_sizes)];
	for (unsigned k = 0; k < ARRAY_SIZE(base_sizes); k++)
		sizes[k] = (uint32_t)round_up(base_sizes[k], unit);
	uint64_t stride = round_up((uint64_t)sizes[ARRAY_SIZE(sizes) - 1] * BLK_SECTOR_SIZE, PAGE_SIZE);
	uint64_t fits = arena_size / stride;
	unsigned depth = blk->max_in_flight;
	if (fits < depth)
		depth = (unsigned)fits;
	if (depth == 0)
		BLK_FAIL(blk, "free RAM (%llu bytes) too small for a %llu-byte buffer", (unsigned long long)arena_size,
			 (unsigned long long)stride);

	uint64_t area = (uint64_t)options->blk_test_mib * (1024 * 1024 / BLK_SECTOR_SIZE);
	if (area > blk->capacity)
		area = blk->capacity;
	area -= area % unit;
	fw_printf("fw~ blk%u: testing %llu sectors, %u requests in flight at most\n", disk, (unsigned long long)area,
		  depth);

	/* The pattern, in requests of mixed sizes, several in flight. */
	struct transfer t = {.blk = blk, .write = true, .disk = disk, .first = 0, .end = area, .sizes = sizes,
			     .size_count = ARRAY_SIZE(sizes), .depth = depth, .stride = stride};
	transfer_run(&t);
	uint64_t write_requests = t.requests;

	if (blk->flush) {
		blk_prepare(&single, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
		int status = blk_execute(blk, &single);
		if (status < 0)
			BLK_FAIL(blk, "timeout waiting for %s", "flush");
		if (status != VIRTIO_BLK_S_OK)
			BLK_FAIL(blk, "flush status %d", status);
		check_completion(blk, &single, VIRTIO_BLK_S_OK);
		fw_printf("fw: blk%u flush ok\n", disk);
		if (options->blk_flush_behind)
			flush_behind_writes(blk, disk, area, stride, depth, unit);
	}

	/* Read everything back (buffers pre-filled so stale data cannot pass), compare. */
	memset(arena, FILL_BYTE, stride * depth);
	t.write = false;
	t.verify = true;
	transfer_run(&t);
	fw_printf("fw~ blk%u: %llu write and %llu read requests\n", disk, (unsigned long long)write_requests,
		  (unsigned long long)t.requests);

	/* DISCARD (when offered) and WRITE_ZEROES of the last sectors; they must read as zeros. */
	uint64_t tail = TEST_TAIL_SECTORS > unit ? TEST_TAIL_SECTORS : unit;
	if (tail > area)
		tail = area;
	if (blk->write_zeroes && tail > 0) {
		uint64_t first = area - tail;
		if (blk->discard)
			range_request(blk, VIRTIO_BLK_T_DISCARD, first, tail, range_chunk(blk->max_discard_sectors, unit));
		range_request(blk, VIRTIO_BLK_T_WRITE_ZEROES, first, tail, range_chunk(blk->max_write_zeroes_sectors, unit));
		memset(arena, FILL_BYTE, tail * BLK_SECTOR_SIZE);
		execute_expect(blk, VIRTIO_BLK_T_IN, first, arena, (uint32_t)(tail * BLK_SECTOR_SIZE), VIRTIO_BLK_S_OK);
		for (uint64_t b = 0; b < tail * BLK_SECTOR_SIZE; b++) {
			if (arena[b] != 0)
				BLK_FAIL(blk, "sector %llu byte %u not zero after write-zeroes: 0x%x",
					 (unsigned long long)(first + b / BLK_SECTOR_SIZE), (unsigned)(b % BLK_SECTOR_SIZE),
					 (unsigned)arena[b]);
		}
		if (blk->flush)
			execute_expect(blk, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, VIRTIO_BLK_S_OK);
		fw_printf("fw: blk%u write-zeroes ok\n", disk);
	}

	/* A request past the end of the disk. */
	execute_expect(blk, VIRTIO_BLK_T_IN, blk->capacity, arena, unit * BLK_SECTOR_SIZE, VIRTIO_BLK_S_IOERR);
	fw_printf("fw: blk%u past-end ioerr ok\n", disk);
	fw_printf("fw: blk%u OK %llu sectors written and verified\n", disk, (unsigned long long)area);
}

static void test_read_only(struct blk_device *blk, unsigned disk)
{
	uint32_t bytes = sector_unit(blk) * BLK_SECTOR_SIZE;
	if (arena_size < bytes)
		BLK_FAIL(blk, "free RAM (%llu bytes) too small for a %u-byte buffer", (unsigned long long)arena_size,
			 (unsigned)bytes);
	memset(arena, 0, bytes);
	execute_expect(blk, VIRTIO_BLK_T_OUT, 0, arena, bytes, VIRTIO_BLK_S_IOERR);
	execute_expect(blk, VIRTIO_BLK_T_IN, 0, arena, bytes, VIRTIO_BLK_S_OK);
	fw_printf("fw: blk%u read-only ok\n", disk);
	fw_printf("fw: blk%u OK read-only\n", disk);
}

static void print_device(const struct blk_device *blk, unsigned disk)
{
	fw_printf("fw~ blk%u: device 0x%lx capacity %llu blk_size %u queue size %u in flight %u%s%s%s\n", disk,
		  (unsigned long)blk->dev->base, (unsigned long long)blk->capacity, (unsigned)blk->blk_size,
		  (unsigned)blk->vq->size, blk->max_in_flight, blk->read_only ? " ro" : "", blk->flush ? " flush" : "",
		  blk->dev->indirect ? " indirect" : "");
	if (blk->discard)
		fw_printf("fw~ blk%u: discard max %u sectors %u segments alignment %u\n", disk,
			  (unsigned)blk->max_discard_sectors, (unsigned)blk->max_discard_seg,
			  (unsigned)blk->discard_sector_alignment);
	if (blk->write_zeroes)
		fw_printf("fw~ blk%u: write-zeroes max %u sectors %u segments may unmap %u\n", disk,
			  (unsigned)blk->max_write_zeroes_sectors, (unsigned)blk->max_write_zeroes_seg,
			  (unsigned)blk->write_zeroes_may_unmap);
}

static const char *disk_name(unsigned disk)
{
	char *name = names[disk];
	unsigned n = 0;
	name[n++] = 'b';
	name[n++] = 'l';
	name[n++] = 'k';
	if (disk >= 10)
		name[n++] = (char)('0' + disk / 10);
	name[n++] = (char)('0' + disk % 10);
	name[n] = '\0';
	return name;
}

/* fw.blk-wait-button: the device is live (DRIVER_OK) while the host may point it at another
 * image; after the power button, the capacity is read again and the configuration-change
 * interrupt bit reported (then acknowledged). */
static void wait_for_swap(struct blk_device *blk, unsigned disk)
{
	virtio_interrupt_ack(blk->dev, virtio_interrupt_status(blk->dev));
	fw_printf("fw: blk waiting for the power button\n");
	power_button_wait_press();
	uint32_t pending = virtio_interrupt_status(blk->dev);
	virtio_interrupt_ack(blk->dev, pending);
	blk->capacity = virtio_config_read64(blk->dev, VIRTIO_BLK_CONFIG_CAPACITY);
	fw_printf("fw: blk%u after the button: capacity %llu sectors, configuration change %s\n", disk,
		  (unsigned long long)blk->capacity, (pending & 2) ? "yes" : "no");
}

void blk_test(const struct fw_options *options)
{
	if (virtio_find(VIRTIO_ID_BLOCK) == NULL)
		fail_plain("blk", "no device");
	arena_init("blk");
	struct virtio_device *dev;
	for (unsigned disk = 0; (dev = virtio_find_nth(VIRTIO_ID_BLOCK, disk)) != NULL; disk++) {
		struct blk_device blk;
		blk_open(&blk, dev, &blk_queue, disk_name(disk), (uint16_t)options->blk_queue);
		print_device(&blk, disk);
		fw_printf("fw: blk%u capacity %llu sectors%s\n", disk, (unsigned long long)blk.capacity,
			  blk.read_only ? " read-only" : "");
		if (disk == 0 && options->blk_wait_button)
			wait_for_swap(&blk, disk);
		print_id(&blk, disk);
		if (blk.read_only)
			test_read_only(&blk, disk);
		else
			test_writable(&blk, disk, options);
		blk_close(&blk);
	}
	fw_printf("fw: blk OK\n");
}

/* ---- fw.blk-bench --------------------------------------------------------------------------- */

void blk_bench(const struct fw_options *options)
{
	struct virtio_device *dev = virtio_find(VIRTIO_ID_BLOCK);
	if (dev == NULL)
		fail_plain("blk-bench", "no device");
	arena_init("blk-bench");
	struct blk_device blk;
	blk_open(&blk, dev, &blk_queue, "blk-bench", (uint16_t)options->blk_queue);
	bool write = options->blk_bench_write;
	const char *op = write ? "write" : "read";
	uint64_t total = (uint64_t)options->blk_bench_mib << 20;
	uint32_t request = options->blk_bench_request_kib << 10;
	if (write && blk.read_only)
		fail_plain("blk-bench", "write on a read-only device");
	if (total / BLK_SECTOR_SIZE > blk.capacity)
		BLK_FAIL(&blk, "%llu bytes is more than the disk's %llu sectors", (unsigned long long)total,
			 (unsigned long long)blk.capacity);
	uint64_t stride = round_up(request, PAGE_SIZE);
	uint64_t fits = arena_size / stride;
	unsigned depth = blk.max_in_flight;
	if (fits < depth)
		depth = (unsigned)fits;
	if (depth == 0)
		BLK_FAIL(&blk, "free RAM (%llu bytes) too small for a %u-byte request", (unsigned long long)arena_size,
			 (unsigned)request);
	fw_printf("fw~ blk-bench: device 0x%lx %s %llu bytes in %u-byte requests, queue size %u, depth %u%s\n",
		  (unsigned long)dev->base, op, (unsigned long long)total, (unsigned)request, (unsigned)blk_queue.size,
		  depth, dev->indirect ? ", indirect" : "");

	/* Touch the buffers first: the first access to guest memory is slow (the host maps it on
	 * demand; with shadow paging, as on PVM, the guest's first touch too), and it must not be
	 * counted against the deeper pass, which uses depth times as many buffers. */
	memset(arena, 0, stride * depth);

	/* Passes at queue depth 1, 8 and the deepest the queue and the buffers allow. */
	uint32_t sizes[1] = {request / BLK_SECTOR_SIZE};
	unsigned depths[3] = {1, 8, depth};
	unsigned passes = 0;
	for (unsigned k = 0; k < 3; k++) {
		unsigned d = depths[k] < depth ? depths[k] : depth;
		if (passes == 0 || d > depths[passes - 1])
			depths[passes++] = d;
	}
	for (unsigned pass = 0; pass < passes; pass++) {
		struct transfer t = {.blk = &blk, .write = write, .verify = false, .disk = 0, .first = 0,
				     .end = total / BLK_SECTOR_SIZE, .sizes = sizes, .size_count = 1,
				     .depth = depths[pass], .stride = stride};
		fw_printf("fw~ blk-bench %s qd%u start\n", op, depths[pass]);
		uint64_t start = rdtsc();
		transfer_run(&t);
		uint64_t cycles = rdtsc() - start;
		fw_printf("fw~ blk-bench %s qd%u end %llu bytes %llu cycles\n", op, depths[pass],
			  (unsigned long long)total, (unsigned long long)cycles);
		if (write && blk.flush)
			execute_expect(&blk, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, VIRTIO_BLK_S_OK);
	}
	blk_close(&blk);
}
