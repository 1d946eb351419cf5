/*
 * cmdline.h — the firmware's command-line switches (fw.*) and the virtio-mmio devices it
 * names (virtio_mmio.device=...). See README.md.
 */
#ifndef FW_CMDLINE_H
#define FW_CMDLINE_H

#include <stdbool.h>
#include <stdint.h>

/* virtio_mmio.device= tokens kept (more are counted in virtio_mmio_dropped, not used). */
#define VIRTIO_MMIO_MAX_DEVICES 16

/* One `virtio_mmio.device=<size>@<base>:<irq>[:<id>]` token, as Linux reads it. */
struct virtio_mmio_token {
	uint64_t base; /* physical address of the register block, below 4 GiB */
	uint64_t size; /* bytes, at least 0x100 */
	uint32_t irq;  /* interrupt line (I/O APIC pin / GSI) */
};

/* fw.test=<name>: a self-test run after "fw: ready". */
enum fw_test {
	FW_TEST_NONE = 0,
	FW_TEST_RNG, /* fw.test=rng: virtio-rng requests and interrupt delivery (virtio_rng.c) */
	FW_TEST_BLK, /* fw.test=blk: every virtio-blk device written, flushed, read back (blk_test.c) */
};

/* fw.blk-queue=N: the highest request queue index the firmware may be asked to use. */
#define BLK_MAX_QUEUE_INDEX 63
/* fw.blk-mib=N: how much of each disk fw.test=blk writes and verifies (MiB). */
#define BLK_TEST_DEFAULT_MIB 64
#define BLK_TEST_MAX_MIB 1048576 /* 1 TiB */
/* fw.blk-bench=<read|write>,<MiB>,<request KiB> bounds. */
#define BLK_BENCH_MAX_MIB 1048576
#define BLK_BENCH_MAX_REQUEST_KIB 65536
/* fw.net=IP/PREFIX or dhcp, fw.udp-echo=PORT, fw.net-bench=DEST_IP:PORT,MiB,SIZE. */
#define NET_UDP_ECHO_DEFAULT_PORT 7
#define NET_UDP_CONTROL_PORT 9      /* "counters" requests; fw.udp-echo may not use it */
#define NET_BENCH_MAX_MIB 1048576
#define NET_RX_BUFFER_MIN 64  /* fw.net-rx-buffer=N: at least the header and something */
#define NET_RX_BUFFER_MAX 2048
#define NET_BENCH_MAX_SIZE 65507     /* the largest UDP payload in an IPv4 datagram */

struct fw_options {
	bool wait_button;   /* fw.wait=button: wait for the power button before the end */
	bool ignore_button; /* fw.ignore-button: with fw.wait=button, ignore presses forever */
	bool wait_echo;     /* fw.wait=echo: echo console input lines until the power button */
	bool wait_idle;     /* fw.wait=idle: "fw: idle", then the power button, or for ever without one */
	bool wait_ticks;    /* fw.wait=ticks: print a tick line every 2^26 TSC cycles until the button */
	bool has_exit;      /* fw.exit=N: end through the debug-exit port instead of powering off */
	uint8_t exit_status;
	bool fault;         /* fw.fault: raise a CPU exception (ud2) after "fw: ready" */
	enum fw_test test;  /* fw.test=<name> */
	bool virtio_plain;  /* fw.virtio-features=plain: never accept EVENT_IDX / INDIRECT_DESC */
	uint32_t blk_test_mib; /* fw.blk-mib=N (BLK_TEST_DEFAULT_MIB when absent) */
	uint32_t blk_queue;    /* fw.blk-queue=N: the virtio-blk request queue used (N > 0: VIRTIO_BLK_F_MQ) */
	bool blk_flush_behind; /* fw.blk-flush-behind: fw.test=blk also makes a FLUSH available behind
				* writes still in flight and fails unless it completes after all of them
				* (SwiftVMM's guarantee; virtio lets a device complete it earlier) */
	bool blk_wait_button;  /* fw.blk-wait-button: fw.test=blk opens disk 0, then waits for the
	                        * power button before testing it (the host may swap its image) */
	bool blk_bench;        /* fw.blk-bench=...: the sequential read or write benchmark */
	bool blk_bench_write;  /* write (else read) */
	uint32_t blk_bench_mib;         /* MiB transferred per pass, from sector 0 */
	uint32_t blk_bench_request_kib; /* bytes per request / 1024 */
	bool net;                /* fw.net=IP/PREFIX or dhcp: the responder on the first virtio-net device */
	bool net_dhcp;           /* fw.net=dhcp: the address from DHCP (net_ip and net_prefix 0) */
	uint32_t net_ip;         /* our IPv4 address, host order (10.0.2.15 = 0x0a00020f) */
	uint32_t net_prefix;     /* 0-32 */
	uint16_t net_udp_echo_port; /* fw.udp-echo=PORT (NET_UDP_ECHO_DEFAULT_PORT when absent) */
	uint32_t net_rx_pause_mcycles; /* fw.net-rx-pause=N: stop receiving for N million TSC cycles */
	uint32_t net_sink_port; /* fw.net-sink=PORT: count UDP datagrams to PORT (the receive benchmark; 0: off) */
	uint32_t net_rx_buffer; /* fw.net-rx-buffer=N: N-byte receive buffers with VIRTIO_NET_F_MRG_RXBUF (0: off) */
	bool net_bench;          /* fw.net-bench=DEST_IP:PORT,MiB,SIZE */
	uint32_t net_bench_ip;   /* host order */
	uint16_t net_bench_port;
	uint32_t net_bench_mib;  /* MiB of UDP payload */
	uint32_t net_bench_size; /* payload bytes per datagram */
	uint32_t net_src_ip;     /* fw.net-src=IP: fw.net-bench's datagrams carry this source address
				  * (a forged one: the host must drop them; 0: our own) */
	uint32_t reboot_after_mcycles; /* fw.reboot-after=N: reset the machine N million TSC cycles
					* after the net responder started, unless the power button came first
					* (0: off) */
	bool net_ra;             /* fw.net-ra: after "fw: net ready", send one IPv6 router advertisement
				  * for 2001:db8:5:1::/64 (the host must take nothing from it) */
	struct virtio_mmio_token virtio_mmio[VIRTIO_MMIO_MAX_DEVICES]; /* in command-line order */
	uint32_t virtio_mmio_count;
	uint32_t virtio_mmio_dropped; /* well-formed tokens beyond VIRTIO_MMIO_MAX_DEVICES */
};

/*
 * Parses the space-separated tokens of `cmdline`. Tokens that do not start with "fw." or
 * "virtio_mmio.device=" are ignored (console=..., ...). Returns true on success; on an
 * unknown or malformed fw.* token, a malformed virtio_mmio.device= token, or fw.udp-echo= /
 * fw.net-bench= without fw.net, returns false with `*bad`/`*bad_length` naming it.
 */
bool cmdline_parse(const char *cmdline, struct fw_options *options, const char **bad, uint32_t *bad_length);

#endif
