/*
 * virtio_blk.h — a polling virtio-blk driver (virtio 1.x, 5.2) on top of the driver core
 * (virtio.h): one request queue (queue 0, or with VIRTIO_BLK_F_MQ another one), several requests
 * in flight, completions taken by polling the used ring.
 *
 *   struct blk_device blk;
 *   blk_open(&blk, dev, &queue, "blk0", 0);  // handshake, config space, queue 0, DRIVER_OK
 *   blk_prepare(&r, VIRTIO_BLK_T_IN, sector, buffer, bytes);
 *   blk_submit(&blk, &r); ...; blk_kick(&blk);
 *   struct blk_request *done = blk_wait(&blk);   // or blk_poll (never waits)
 *   blk_close(&blk);                          // device reset
 *
 * A request is three buffers: the header {type, reserved, sector} (device-readable), the data
 * or the DISCARD / WRITE_ZEROES range (device-readable for OUT, DISCARD, WRITE_ZEROES;
 * device-writable for IN and GET_ID; none for FLUSH), the status byte (device-writable). With
 * VIRTIO_F_RING_INDIRECT_DESC they go through an indirect table (one ring descriptor per
 * request), otherwise as a direct chain (three, two for FLUSH). The memory of a request (its
 * header, range and status) and of its data must stay put until it completes.
 *
 * Sectors are always 512 bytes in the protocol, whatever blk_size says.
 */
#ifndef FW_VIRTIO_BLK_H
#define FW_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio.h"

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_GEOMETRY 4
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_TOPOLOGY 10
#define VIRTIO_BLK_F_CONFIG_WCE 11
#define VIRTIO_BLK_F_MQ 12
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Config space offsets (struct virtio_blk_config, 5.2.4). */
#define VIRTIO_BLK_CONFIG_CAPACITY 0 /* le64, in 512-byte sectors */
#define VIRTIO_BLK_CONFIG_BLK_SIZE 20
#define VIRTIO_BLK_CONFIG_MAX_DISCARD_SECTORS 36
#define VIRTIO_BLK_CONFIG_MAX_DISCARD_SEG 40
#define VIRTIO_BLK_CONFIG_DISCARD_SECTOR_ALIGNMENT 44
#define VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SECTORS 48
#define VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SEG 52
#define VIRTIO_BLK_CONFIG_WRITE_ZEROES_MAY_UNMAP 56
#define VIRTIO_BLK_CONFIG_NUM_QUEUES 34 /* le16, with VIRTIO_BLK_F_MQ */

/* Request types (5.2.6). */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

/* Status byte values. */
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_ID_BYTES 20
#define BLK_SECTOR_SIZE 512u
#define BLK_QUEUE 0 /* the default request queue (fw.blk-queue picks another) */
#define BLK_QUEUE_SIZE_LIMIT 256  /* QueueNum = min(QueueNumMax, 256) */
#define BLK_MAX_IN_FLIGHT 64      /* requests in flight at most (also VIRTQ_INDIRECT_TABLES) */
#define BLK_DESCRIPTORS_DIRECT 3  /* ring descriptors per request without indirect tables */

struct virtio_blk_header {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

/* The payload of DISCARD and WRITE_ZEROES (one segment). */
struct virtio_blk_range {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags; /* bit 0: unmap (WRITE_ZEROES only) */
};

struct blk_request {
	/* Shared with the device while in flight. */
	struct virtio_blk_header header;
	struct virtio_blk_range range;
	uint8_t status; /* set to 0xff before submission */
	/* The driver's. */
	void *data;      /* IN / OUT / GET_ID buffer */
	uint32_t bytes;  /* its length */
	uint32_t used_length; /* as the device reported it */
	bool in_flight;
	uint32_t tag;    /* for the caller */
};

struct blk_device {
	struct virtio_device *dev;
	struct virtq *vq;
	const char *name;          /* "blk0", ...: prefix of failure lines */
	uint64_t capacity;         /* sectors */
	uint32_t blk_size;         /* VIRTIO_BLK_F_BLK_SIZE, else 0 */
	bool read_only;            /* VIRTIO_BLK_F_RO offered */
	bool flush;                /* VIRTIO_BLK_F_FLUSH negotiated */
	bool discard;              /* VIRTIO_BLK_F_DISCARD negotiated */
	bool write_zeroes;         /* VIRTIO_BLK_F_WRITE_ZEROES negotiated */
	uint32_t max_discard_sectors, max_discard_seg, discard_sector_alignment;
	uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	unsigned max_in_flight;    /* the queue's room: its size with indirect tables, size / 3
				    * without, at most BLK_MAX_IN_FLIGHT */
	unsigned in_flight;
};

/*
 * Handshake (accepting VIRTIO_BLK_F_RO, BLK_SIZE, FLUSH, DISCARD, WRITE_ZEROES when offered,
 * plus what the core accepts), reads the config space (capacity with the ConfigGeneration
 * loop), sets up queue 0 with at most BLK_QUEUE_SIZE_LIMIT entries, DRIVER_OK. `name` is kept
 * (a string literal or static).
 */
void blk_open(struct blk_device *blk, struct virtio_device *dev, struct virtq *vq, const char *name, uint16_t queue);

/* Resets the device. No request may be in flight afterwards (they are forgotten). */
void blk_close(struct blk_device *blk);

/* Fills in a request: IN / OUT / GET_ID use `data` and `bytes`; DISCARD / WRITE_ZEROES take
 * `bytes` / 512 sectors from `sector` as their one range (flags 0, `data` unused); FLUSH uses
 * neither. */
void blk_prepare(struct blk_request *r, uint32_t type, uint64_t sector, void *data, uint32_t bytes);

/* Posts a prepared request (status set to 0xff first). False when the queue has no room
 * right now. The device is not notified until blk_kick. */
bool blk_submit(struct blk_device *blk, struct blk_request *r);

/* Notifies the device of the requests submitted since the last kick (if it wants to be). */
void blk_kick(struct blk_device *blk);

/* The next completed request, or NULL if none has completed yet (never waits). */
struct blk_request *blk_poll(struct blk_device *blk);

/* Waits for the next completed request, bounded (about 30 s: a FLUSH may take long); NULL on
 * timeout (or nothing in flight). */
struct blk_request *blk_wait(struct blk_device *blk);

/* Submits one request, kicks, waits for it (nothing else may be in flight). Returns its
 * status, or -1 on timeout. */
int blk_execute(struct blk_device *blk, struct blk_request *r);

/* Device-writable bytes of a request (data for IN / GET_ID, plus the status byte). */
uint32_t blk_writable_bytes(const struct blk_request *r);

/*
 * Whether the used length the device reported is plausible: with status OK an IN request must
 * report exactly its data plus the status byte; any other request at least the status byte
 * and at most its device-writable bytes.
 */
bool blk_used_length_ok(const struct blk_request *r);

#endif
