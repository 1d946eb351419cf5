/*
 * net_responder.c — fw.net (a responder on the first virtio-net device) and fw.net-bench (a
 * UDP transmit benchmark), on the polling driver (virtio_net.c).
 *
 * The responder answers, for our IPv4 address (fw.net=IP/PREFIX) and our MAC:
 *   ARP requests for our address             → ARP reply            (one descriptor)
 *   ICMP echo requests                       → echo reply           (two descriptors: the
 *                                                                    header apart, indirect
 *                                                                    when negotiated)
 *   UDP to the echo port (fw.udp-echo, 7)    → the same payload back, ports and addresses
 *                                              swapped              (one descriptor)
 *   UDP to port 9 starting with "counters"   → the counter text     (one descriptor)
 * and drops (counts) everything else: frames for another MAC (unicast), other EtherTypes,
 * IPv4 for another address, fragments, bad IPv4 / ICMP / UDP checksums, other ports.
 *
 * Replies go to the Ethernet source of the request (no ARP cache); the IPv4 header of a reply
 * has no options, TTL 64, DF, an identification counter; checksums are complete (no offload
 * is negotiated): IPv4, ICMP and UDP (a computed 0 is sent as 0xffff).
 *
 * Multi-byte protocol fields are read and written byte by byte (big-endian): frames sit at
 * any alignment in the buffers.
 */
#include "net_responder.h"

#include "arch.h"
#include "bootinfo.h"
#include "console.h"
#include "defs.h"
#include "lib.h"
#include "platform.h"
#include "virtio.h"
#include "virtio_net.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ETH_HLEN 14
#define ARP_LEN 28
#define IPV4_HLEN 20
#define UDP_HLEN 8
#define ICMP_HLEN 8
#define IP_PROTO_ICMP 1
#define IP_PROTO_UDP 17
#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8
#define IP_TTL 64
#define IP_FLAG_DF 0x4000

/* Between two looks at the power button and the device's Status register (each an exit). */
#define HOUSEKEEPING_TSC_CYCLES (1ull << 22)
/* Waiting for a transmit buffer (the device has them all): give up after this. */
#define TX_WAIT_TSC_CYCLES 8000000000ull
/* ARP resolution for fw.net-bench: this many requests, this long apart. */
#define ARP_ATTEMPTS 8
#define ARP_RETRY_TSC_CYCLES 1000000000ull
/* fw.net-bench: notify the transmit queue after this many frames (and whenever it is full). */
#define BENCH_KICK_BATCH 32
#define BENCH_SOURCE_PORT NET_UDP_CONTROL_PORT /* anything sent back is dropped */
/* Memory kept at the arena's end for the benchmark's payload template. */
#define BENCH_TEMPLATE_BYTES 65536
_Static_assert(BENCH_TEMPLATE_BYTES >= NET_BENCH_MAX_SIZE, "the template holds the largest payload");

#define COUNTERS_REQUEST "counters"
#define COUNTERS_TEXT_MAX 200

static const uint8_t broadcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

struct responder {
	struct net_device net;
	const struct fw_options *options;
	uint32_t ip;
	uint16_t echo_port;
	uint16_t ip_id;
	/* Counters (rx and tx are the driver's). */
	uint64_t arp, icmp, udp, dropped;
	/* fw.net-bench's ARP resolution. */
	bool resolving;
	uint32_t resolve_ip;
	bool resolved;
	uint8_t resolved_mac[6];
	/* Housekeeping. */
	bool button;             /* the power-button device exists */
	bool stop;               /* it was pressed (and is not ignored) */
	uint64_t last_housekeeping;
	uint8_t *bench_template; /* BENCH_TEMPLATE_BYTES at the arena's end (fw.net-bench) */
};

static struct responder responder;

__attribute__((noreturn)) static void bench_fail_plain(const char *what)
{
	fw_printf("fw: net-bench FAIL %s\n", what);
	platform_debug_exit(FW_STATUS_NET_FAILED);
}

/* ---- Bytes, checksums, text ----------------------------------------------------------------- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static bool mac_equal(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, 6) == 0;
}

/* RFC 1071: the sum of big-endian 16-bit words (an odd last byte padded with a zero), to be
 * folded. Segments after the first must start at an even offset of the summed data. */
static uint64_t csum_add(uint64_t sum, const uint8_t *p, uint32_t n)
{
	uint32_t i = 0;
	for (; i + 1 < n; i += 2)
		sum += (uint32_t)((p[i] << 8) | p[i + 1]);
	if (i < n)
		sum += (uint32_t)p[i] << 8;
	return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The IPv4 pseudo-header's sum (RFC 768). */
static uint64_t pseudo_header(uint32_t src, uint32_t dst, uint8_t proto, uint32_t length)
{
	return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + length;
}

struct text {
	char data[COUNTERS_TEXT_MAX];
	uint32_t length;
};

static void text_add(struct text *t, const char *s)
{
	while (*s != '\0' && t->length < sizeof(t->data))
		t->data[t->length++] = *s++;
}

static void text_add_u64(struct text *t, uint64_t v)
{
	char digits[20];
	unsigned n = 0;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0 && t->length < sizeof(t->data))
		t->data[t->length++] = digits[--n];
}

/* "net counters rx <n> tx <n> arp <n> icmp <n> udp <n> dropped <n>" */
static void counters_text(const struct responder *r, struct text *t)
{
	t->length = 0;
	text_add(t, "net counters rx ");
	text_add_u64(t, r->net.rx_frames);
	text_add(t, " tx ");
	text_add_u64(t, r->net.tx_frames);
	text_add(t, " arp ");
	text_add_u64(t, r->arp);
	text_add(t, " icmp ");
	text_add_u64(t, r->icmp);
	text_add(t, " udp ");
	text_add_u64(t, r->udp);
	text_add(t, " dropped ");
	text_add_u64(t, r->dropped);
}

/* ---- Housekeeping: the power button and the device's health --------------------------------- */

/* Every HOUSEKEEPING_TSC_CYCLES: DEVICE_NEEDS_RESET, then the power button. Sets r->stop on a
 * press (unless fw.ignore-button). */
static void housekeeping(struct responder *r)
{
	uint64_t now = rdtsc();
	if (now - r->last_housekeeping < HOUSEKEEPING_TSC_CYCLES)
		return;
	r->last_housekeeping = now;
	virtio_check_status(r->net.dev);
	if (r->button && power_button_poll()) {
		if (r->options->ignore_button)
			fw_printf("fw: power button pressed (ignored)\n");
		else
			r->stop = true;
	}
}

/* ---- Transmitting ------------------------------------------------------------------------------ */

/* A transmit frame area; waits (bounded) for the device to give one back when all are out. */
static uint8_t *tx_frame_wait(struct responder *r)
{
	uint8_t *frame = net_tx_frame(&r->net);
	if (frame != NULL)
		return frame;
	net_tx_kick(&r->net);
	uint64_t start = rdtsc();
	for (;;) {
		cpu_pause();
		if ((frame = net_tx_frame(&r->net)) != NULL)
			return frame;
		if (rdtsc() - start > TX_WAIT_TSC_CYCLES) {
			virtio_check_status(r->net.dev);
			net_print_queues(&r->net);
			fw_printf("fw: %s FAIL timeout waiting for a transmit buffer (%u in flight)\n", r->net.name,
				  net_tx_in_flight(&r->net));
			platform_debug_exit(FW_STATUS_NET_FAILED);
		}
	}
}

/* Posts a frame; when the queue has no room for the chain, waits (bounded) for some. */
static void tx_send(struct responder *r, uint8_t *frame, uint32_t length, bool split)
{
	if (net_tx_submit(&r->net, frame, length, split))
		return;
	net_tx_kick(&r->net);
	uint64_t start = rdtsc();
	for (;;) {
		cpu_pause();
		net_tx_reclaim(&r->net);
		if (net_tx_submit(&r->net, frame, length, split))
			return;
		if (rdtsc() - start > TX_WAIT_TSC_CYCLES) {
			virtio_check_status(r->net.dev);
			net_print_queues(&r->net);
			fw_printf("fw: %s FAIL timeout waiting for room in the transmit queue (%u in flight)\n",
				  r->net.name, net_tx_in_flight(&r->net));
			platform_debug_exit(FW_STATUS_NET_FAILED);
		}
	}
}

static void put_eth(const struct responder *r, uint8_t *frame, const uint8_t *dst_mac, uint16_t type)
{
	memcpy(frame, dst_mac, 6);
	memcpy(frame + 6, r->net.mac, 6);
	put16(frame + 12, type);
}

/* Ethernet + IPv4 header (no options) for `payload_length` bytes of `proto`; returns the
 * payload's place. */
static uint8_t *put_ipv4(struct responder *r, uint8_t *frame, const uint8_t *dst_mac, uint32_t dst_ip, uint8_t proto,
			 uint32_t payload_length)
{
	put_eth(r, frame, dst_mac, ETHERTYPE_IPV4);
	uint8_t *ip = frame + ETH_HLEN;
	ip[0] = 0x45; /* version 4, IHL 5 */
	ip[1] = 0;    /* DSCP / ECN */
	put16(ip + 2, (uint16_t)(IPV4_HLEN + payload_length));
	put16(ip + 4, r->ip_id++);
	put16(ip + 6, IP_FLAG_DF);
	ip[8] = IP_TTL;
	ip[9] = proto;
	put16(ip + 10, 0);
	put32(ip + 12, r->ip);
	put32(ip + 16, dst_ip);
	put16(ip + 10, csum_fold(csum_add(0, ip, IPV4_HLEN)));
	return ip + IPV4_HLEN;
}

/* A UDP datagram from our address; the payload is copied in. */
static void send_udp(struct responder *r, const uint8_t *dst_mac, uint32_t dst_ip, uint16_t src_port,
		     uint16_t dst_port, const uint8_t *data, uint32_t length)
{
	uint8_t *frame = tx_frame_wait(r);
	uint8_t *udp = put_ipv4(r, frame, dst_mac, dst_ip, IP_PROTO_UDP, UDP_HLEN + length);
	put16(udp, src_port);
	put16(udp + 2, dst_port);
	put16(udp + 4, (uint16_t)(UDP_HLEN + length));
	put16(udp + 6, 0);
	memcpy(udp + UDP_HLEN, data, length);
	uint16_t sum = csum_fold(csum_add(pseudo_header(r->ip, dst_ip, IP_PROTO_UDP, UDP_HLEN + length), udp,
					  UDP_HLEN + length));
	put16(udp + 6, sum == 0 ? 0xffff : sum);
	tx_send(r, frame, ETH_HLEN + IPV4_HLEN + UDP_HLEN + length, false);
}

static void send_arp(struct responder *r, uint16_t op, const uint8_t *dst_mac, const uint8_t *target_mac,
		     uint32_t target_ip)
{
	uint8_t *frame = tx_frame_wait(r);
	put_eth(r, frame, dst_mac, ETHERTYPE_ARP);
	uint8_t *a = frame + ETH_HLEN;
	put16(a, 1);              /* hardware type: Ethernet */
	put16(a + 2, ETHERTYPE_IPV4);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, r->net.mac, 6);
	put32(a + 14, r->ip);
	memcpy(a + 18, target_mac, 6);
	put32(a + 24, target_ip);
	tx_send(r, frame, ETH_HLEN + ARP_LEN, false);
}

/* ---- Receiving ----------------------------------------------------------------------------- */

/* Each returns true when the frame was answered or used, false to count it as dropped. */

static bool handle_arp(struct responder *r, const uint8_t *frame, uint32_t length)
{
	if (length < ETH_HLEN + ARP_LEN)
		return false;
	const uint8_t *a = frame + ETH_HLEN;
	if (get16(a) != 1 || get16(a + 2) != ETHERTYPE_IPV4 || a[4] != 6 || a[5] != 4)
		return false;
	uint16_t op = get16(a + 6);
	const uint8_t *sender_mac = a + 8;
	uint32_t sender_ip = get32(a + 14);
	uint32_t target_ip = get32(a + 24);
	if (sender_mac[0] & 1)
		return false; /* a multicast sender */
	if (op == 1 && target_ip == r->ip) {
		send_arp(r, 2, sender_mac, sender_mac, sender_ip);
		r->arp++;
		return true;
	}
	if (op == 2 && r->resolving && sender_ip == r->resolve_ip && target_ip == r->ip) {
		memcpy(r->resolved_mac, sender_mac, 6);
		r->resolved = true;
		r->resolving = false;
		return true;
	}
	return false;
}

static bool handle_icmp(struct responder *r, const uint8_t *frame, uint32_t src_ip, const uint8_t *icmp,
			uint32_t length)
{
	if (length < ICMP_HLEN || icmp[0] != ICMP_ECHO_REQUEST || icmp[1] != 0)
		return false;
	if (csum_fold(csum_add(0, icmp, length)) != 0)
		return false; /* bad ICMP checksum */
	uint8_t *out = tx_frame_wait(r);
	uint8_t *reply = put_ipv4(r, out, frame + 6, src_ip, IP_PROTO_ICMP, length);
	memcpy(reply, icmp, length);
	reply[0] = ICMP_ECHO_REPLY;
	put16(reply + 2, 0);
	put16(reply + 2, csum_fold(csum_add(0, reply, length)));
	tx_send(r, out, ETH_HLEN + IPV4_HLEN + length, true);
	r->icmp++;
	return true;
}

static bool handle_udp(struct responder *r, const uint8_t *frame, uint32_t src_ip, uint32_t dst_ip,
		       const uint8_t *udp, uint32_t length)
{
	if (length < UDP_HLEN)
		return false;
	uint32_t udp_length = get16(udp + 4);
	if (udp_length < UDP_HLEN || udp_length > length)
		return false;
	if (get16(udp + 6) != 0 &&
	    csum_fold(csum_add(pseudo_header(src_ip, dst_ip, IP_PROTO_UDP, udp_length), udp, udp_length)) != 0)
		return false; /* bad UDP checksum (0: none, allowed over IPv4) */
	uint16_t src_port = get16(udp), dst_port = get16(udp + 2);
	const uint8_t *data = udp + UDP_HLEN;
	uint32_t data_length = udp_length - UDP_HLEN;
	if (dst_port == r->echo_port) {
		send_udp(r, frame + 6, src_ip, dst_port, src_port, data, data_length);
		r->udp++;
		return true;
	}
	if (dst_port == NET_UDP_CONTROL_PORT && data_length >= sizeof(COUNTERS_REQUEST) - 1 &&
	    memcmp(data, COUNTERS_REQUEST, sizeof(COUNTERS_REQUEST) - 1) == 0) {
		struct text t;
		counters_text(r, &t); /* before this reply is counted */
		text_add(&t, "\n");
		uint32_t room = r->net.mtu - IPV4_HLEN - UDP_HLEN; /* a tiny mtu cuts the text */
		if (t.length > room)
			t.length = room;
		send_udp(r, frame + 6, src_ip, NET_UDP_CONTROL_PORT, src_port, (const uint8_t *)t.data, t.length);
		return true;
	}
	return false;
}

static bool handle_ipv4(struct responder *r, const uint8_t *frame, uint32_t length)
{
	if (length < ETH_HLEN + IPV4_HLEN)
		return false;
	const uint8_t *ip = frame + ETH_HLEN;
	uint32_t available = length - ETH_HLEN; /* the frame may be padded beyond the datagram */
	uint32_t header = (uint32_t)(ip[0] & 0xf) * 4;
	uint32_t total = get16(ip + 2);
	if ((ip[0] >> 4) != 4 || header < IPV4_HLEN || total < header || total > available)
		return false;
	if (csum_fold(csum_add(0, ip, header)) != 0)
		return false; /* bad header checksum */
	uint32_t src_ip = get32(ip + 12), dst_ip = get32(ip + 16);
	if (dst_ip != r->ip || (get16(ip + 6) & 0x3fff) != 0)
		return false; /* not ours, or a fragment (MF or an offset) */
	if (src_ip == 0 || src_ip == 0xffffffffu || (src_ip >> 28) == 0xe || (frame[6] & 1))
		return false; /* no reply to a source that is no unicast host */
	const uint8_t *payload = ip + header;
	uint32_t payload_length = total - header;
	switch (ip[9]) {
	case IP_PROTO_ICMP:
		return handle_icmp(r, frame, src_ip, payload, payload_length);
	case IP_PROTO_UDP:
		return handle_udp(r, frame, src_ip, dst_ip, payload, payload_length);
	default:
		return false;
	}
}

static void handle_frame(struct responder *r, const struct net_frame *f)
{
	bool used = false;
	const uint8_t *frame = f->data;
	if (f->length >= ETH_HLEN && (mac_equal(frame, r->net.mac) || mac_equal(frame, broadcast_mac))) {
		uint16_t type = get16(frame + 12);
		if (type == ETHERTYPE_ARP)
			used = handle_arp(r, frame, f->length);
		else if (type == ETHERTYPE_IPV4)
			used = handle_ipv4(r, frame, f->length);
	}
	if (!used)
		r->dropped++;
}

/* Takes every received frame (at most a queue's worth), answers them, gives the buffers back,
 * notifies both queues, reclaims used transmit buffers. True if anything happened. */
static bool net_poll(struct responder *r)
{
	bool any = false;
	struct net_frame f;
	for (unsigned budget = r->net.rx_count; budget > 0 && net_receive(&r->net, &f); budget--) {
		handle_frame(r, &f);
		net_rx_release(&r->net, &f);
		any = true;
	}
	if (any) {
		net_rx_kick(&r->net);
		net_tx_kick(&r->net);
	}
	if (net_tx_reclaim(&r->net) > 0)
		any = true;
	return any;
}

/* ---- fw.net-bench --------------------------------------------------------------------------- */

/* "a.b.c.d" */
struct ip_text {
	char s[16];
};

static struct ip_text ip_text(uint32_t ip)
{
	struct text t = {.length = 0};
	for (int shift = 24; shift >= 0; shift -= 8) {
		text_add_u64(&t, ip >> shift & 0xff);
		if (shift > 0)
			text_add(&t, ".");
	}
	struct ip_text out;
	memcpy(out.s, t.data, t.length);
	out.s[t.length] = '\0';
	return out;
}

static void resolve(struct responder *r, uint32_t ip)
{
	static const uint8_t zero_mac[6] = {0};
	r->resolve_ip = ip;
	r->resolved = false;
	for (unsigned attempt = 0; attempt < ARP_ATTEMPTS && !r->stop; attempt++) {
		r->resolving = true;
		send_arp(r, 1, broadcast_mac, zero_mac, ip);
		net_tx_kick(&r->net);
		uint64_t start = rdtsc();
		while (rdtsc() - start < ARP_RETRY_TSC_CYCLES && !r->stop) {
			if (!net_poll(r))
				cpu_pause();
			if (r->resolved)
				return;
			housekeeping(r);
		}
	}
	r->resolving = false;
	if (r->stop)
		return;
	fw_printf("fw: net-bench FAIL no ARP reply from %s\n", ip_text(ip).s);
	platform_debug_exit(FW_STATUS_NET_FAILED);
}

/* The benchmark cannot post: notify, serve the receive queue, look at the button; fail when
 * nothing could be posted for TX_WAIT_TSC_CYCLES since `progress`. */
static void bench_wait(struct responder *r, uint64_t progress, uint64_t datagrams)
{
	net_tx_kick(&r->net);
	if (!net_poll(r))
		cpu_pause();
	housekeeping(r);
	if (rdtsc() - progress > TX_WAIT_TSC_CYCLES) {
		net_print_queues(&r->net);
		fw_printf("fw: net-bench FAIL timeout waiting for a transmit buffer after %llu datagrams (%u in flight)\n",
			  (unsigned long long)datagrams, net_tx_in_flight(&r->net));
		platform_debug_exit(FW_STATUS_NET_FAILED);
	}
}

/* The benchmark's datagrams: payload byte i is (uint8_t)i, except the first 8 bytes, the
 * datagram's sequence number (from 0, little-endian). */
static void bench(struct responder *r)
{
	const struct fw_options *o = r->options;
	uint32_t size = o->net_bench_size;
	uint32_t max_payload = r->net.mtu - IPV4_HLEN - UDP_HLEN;
	if (size > max_payload) {
		fw_printf("fw: net-bench FAIL %u-byte datagrams do not fit the mtu %u (at most %u bytes)\n", (unsigned)size,
			  (unsigned)r->net.mtu, (unsigned)max_payload);
		platform_debug_exit(FW_STATUS_NET_FAILED);
	}
	fw_printf("fw~ net-bench: resolving %s\n", ip_text(o->net_bench_ip).s);
	resolve(r, o->net_bench_ip);
	if (r->stop)
		return;
	const uint8_t *mac = r->resolved_mac;
	fw_printf("fw~ net-bench: %s is at %02x:%02x:%02x:%02x:%02x:%02x\n", ip_text(o->net_bench_ip).s, mac[0], mac[1],
		  mac[2], mac[3], mac[4], mac[5]);

	/* The payload template (the sequence number's bytes zero) and its sum, once. */
	uint8_t *template = r->bench_template;
	for (uint32_t i = 0; i < size; i++)
		template[i] = i < 8 ? 0 : (uint8_t)i;
	uint64_t template_sum = csum_add(0, template, size);
	uint64_t total = (uint64_t)o->net_bench_mib << 20;
	uint32_t dst_ip = o->net_bench_ip;
	uint16_t dst_port = o->net_bench_port;

	fw_printf("fw~ net-bench start\n");
	uint64_t start = rdtsc();
	uint64_t sent = 0, datagrams = 0;
	unsigned batch = 0;
	uint64_t progress = start; /* the last time a datagram was posted */
	while (sent < total && !r->stop) {
		uint8_t *frame = net_tx_frame(&r->net);
		if (frame == NULL) {
			/* Every buffer is in flight: let the device work, answer the network meanwhile. */
			bench_wait(r, progress, datagrams);
			batch = 0;
			continue;
		}
		uint32_t n = total - sent < size ? (uint32_t)(total - sent) : size;
		uint8_t *udp = put_ipv4(r, frame, mac, dst_ip, IP_PROTO_UDP, UDP_HLEN + n);
		put16(udp, BENCH_SOURCE_PORT);
		put16(udp + 2, dst_port);
		put16(udp + 4, (uint16_t)(UDP_HLEN + n));
		put16(udp + 6, 0);
		uint8_t *data = udp + UDP_HLEN;
		memcpy(data, template, n);
		uint64_t seq = datagrams;
		for (unsigned i = 0; i < 8 && i < n; i++)
			data[i] = (uint8_t)(seq >> (8 * i));
		uint64_t sum = pseudo_header(r->ip, dst_ip, IP_PROTO_UDP, UDP_HLEN + n) + csum_add(0, udp, UDP_HLEN);
		if (n == size && n >= 8)
			sum = csum_add(sum + template_sum, data, 8); /* the template's first 8 bytes are zero */
		else
			sum = csum_add(sum, data, n);
		uint16_t folded = csum_fold(sum);
		put16(udp + 6, folded == 0 ? 0xffff : folded);
		if (!net_tx_submit(&r->net, frame, ETH_HLEN + IPV4_HLEN + UDP_HLEN + n, false)) {
			net_tx_cancel(&r->net, frame); /* no room for the chain: the same as no buffer */
			bench_wait(r, progress, datagrams);
			batch = 0;
			continue;
		}
		progress = rdtsc();
		sent += n;
		datagrams++;
		if (++batch == BENCH_KICK_BATCH) {
			net_tx_kick(&r->net);
			batch = 0;
			net_poll(r); /* reclaims, and keeps answering */
		}
		housekeeping(r);
	}
	net_tx_kick(&r->net);
	/* Until the device has used every frame (bounded). */
	uint64_t wait_start = rdtsc();
	while (net_tx_in_flight(&r->net) > 0 && !r->stop) {
		if (!net_poll(r))
			cpu_pause();
		housekeeping(r);
		if (rdtsc() - wait_start > TX_WAIT_TSC_CYCLES) {
			net_print_queues(&r->net);
			fw_printf("fw: net-bench FAIL timeout waiting for the device to send %u frames\n",
				  net_tx_in_flight(&r->net));
			platform_debug_exit(FW_STATUS_NET_FAILED);
		}
	}
	uint64_t cycles = rdtsc() - start;
	if (r->stop) {
		fw_printf("fw~ net-bench stopped by the power button after %llu bytes %llu datagrams\n",
			  (unsigned long long)sent, (unsigned long long)datagrams);
		return;
	}
	fw_printf("fw~ net-bench end %llu bytes %llu datagrams %llu cycles\n", (unsigned long long)sent,
		  (unsigned long long)datagrams, (unsigned long long)cycles);
}

/* ---- fw.net --------------------------------------------------------------------------------- */

void net_responder(const struct fw_options *options)
{
	struct responder *r = &responder;
	*r = (struct responder){.options = options, .ip = options->net_ip, .echo_port = options->net_udp_echo_port};
	struct virtio_device *dev = virtio_find(VIRTIO_ID_NET);
	if (dev == NULL) {
		fw_printf("fw: net FAIL no device\n");
		platform_debug_exit(FW_STATUS_NET_FAILED);
	}
	uint64_t base, size;
	if (!boot_info_free_ram(&base, &size)) {
		fw_printf("fw: net FAIL no free RAM for buffers (memory map)\n");
		platform_debug_exit(FW_STATUS_NET_FAILED);
	}
	if (options->net_bench) {
		if (size < BENCH_TEMPLATE_BYTES)
			bench_fail_plain("no free RAM for the payload template");
		size -= BENCH_TEMPLATE_BYTES;
		r->bench_template = (uint8_t *)(uintptr_t)(base + size);
	}
	struct net_device *net = &r->net;
	net_open(net, dev, "net0", (uint8_t *)(uintptr_t)base, size);
	fw_printf("fw~ net0: device 0x%lx mtu %u%s, rx queue %u with %u buffers, tx queue %u with %u buffers, "
		  "%u-byte buffers%s\n",
		  (unsigned long)dev->base, (unsigned)net->mtu, net->has_mtu ? " (device)" : "", (unsigned)net->rxq->size,
		  net->rx_count, (unsigned)net->txq->size, net->tx_count, (unsigned)net->buffer_size,
		  dev->indirect ? ", indirect" : "");
	const uint8_t *mac = net->mac;
	fw_printf("fw~ net0 mac %02x:%02x:%02x:%02x:%02x:%02x%s\n", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5],
		  net->mac_from_device ? "" : " (default: the device offers none)");
	fw_printf("fw: net0 link %s\n", net->link_up ? "up" : "down");
	fw_printf("fw: net0 ip %s/%u\n", ip_text(r->ip).s, (unsigned)options->net_prefix);
	r->button = power_button_present();
	r->last_housekeeping = rdtsc();
	fw_printf("fw: net ready\n");
	platform_signal_ready();

	if (options->net_bench)
		bench(r);

	if (options->net_rx_pause_mcycles > 0) {
		/* Stop taking frames for a while: the device runs out of receive buffers (once the host
		 * sends more than were posted) and must stop reading its backend without spinning;
		 * afterwards everything flows again. */
		fw_printf("fw: net rx paused\n");
		uint64_t start = rdtsc(), cycles = (uint64_t)options->net_rx_pause_mcycles * 1000000ull;
		while (rdtsc() - start < cycles && !r->stop) {
			cpu_pause();
			housekeeping(r);
		}
		fw_printf("fw: net rx resumed\n");
	}

	while (!r->stop) {
		if (!net_poll(r))
			cpu_pause();
		housekeeping(r);
	}
	fw_printf("fw: power button pressed\n");
	struct text t;
	counters_text(r, &t);
	fw_printf("fw: %.*s\n", (int)t.length, t.data);
	net_close(net);
}
