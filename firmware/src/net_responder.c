/*
 * net_responder.c — fw.net (a responder on the first virtio-net device) and fw.net-bench (a
 * UDP transmit benchmark), on the polling driver (virtio_net.c).
 *
 * With fw.net=dhcp the address comes from a DHCP server first (DISCOVER, OFFER, REQUEST, ACK;
 * the messages in dhcp.c): sent from 0.0.0.0:68 to 255.255.255.255:67, retransmitted, the
 * replies taken only for our xid and MAC. Until the ACK nothing else is answered.
 *
 * The responder answers, for our IPv4 address (fw.net=IP/PREFIX or the lease) and our MAC:
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
#include "dhcp.h"
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

/* fw.net=dhcp: each message sent this many times at most, this long apart (about 1 s at 2.5
 * GHz); a NAK starts again from DISCOVER, at most DHCP_NAKS_MAX times. */
#define DHCP_ATTEMPTS 8
#define DHCP_RETRY_TSC_CYCLES 2500000000ull
#define DHCP_NAKS_MAX 3
/* RFC 2131 2: a client must take DHCP messages in 576-byte IPv4 datagrams. */
#define DHCP_MIN_MTU 576

#define COUNTERS_REQUEST "counters"
#define COUNTERS_TEXT_MAX 200

static const uint8_t broadcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

#define IP_BROADCAST 0xffffffffu

/* What the DHCP client waits for (nothing once it has its lease, or with a static address). */
enum dhcp_state {
	DHCP_IDLE = 0,
	DHCP_SELECTING,  /* an OFFER */
	DHCP_REQUESTING, /* an ACK or a NAK from the server whose OFFER was taken */
};

struct responder {
	struct net_device net;
	const struct fw_options *options;
	bool has_address;        /* false while DHCP runs: then nothing but DHCP replies is taken */
	uint32_t ip;
	uint32_t prefix;
	uint32_t router;         /* the DHCP lease's router, 0 for none (a static address has none) */
	uint16_t echo_port;
	uint16_t ip_id;
	/* Counters (rx and tx are the driver's). */
	uint64_t arp, icmp, udp, dropped;
	uint64_t dhcp_used;      /* OFFERs, ACKs and NAKs taken (fw.net=dhcp) */
	uint64_t sink_datagrams, sink_bytes; /* fw.net-sink: datagrams and payload bytes taken */
	/* fw.net=dhcp. */
	enum dhcp_state dhcp_state;
	bool dhcp_answered;      /* the awaited reply arrived: in dhcp_reply */
	uint32_t dhcp_xid;
	uint32_t dhcp_offered;   /* the OFFER taken: its address */
	uint32_t dhcp_server;    /* and its server identifier */
	struct dhcp_reply dhcp_reply;
	/* fw.net-bench's ARP resolution. */
	bool resolving;
	uint32_t resolve_ip;
	bool resolved;
	uint8_t resolved_mac[6];
	/* Housekeeping. */
	bool button;             /* the power-button device exists */
	bool stop;               /* it was pressed (and is not ignored) */
	uint64_t last_housekeeping;
	uint64_t started; /* TSC when the responder started (fw.reboot-after counts from it) */
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

/* "net counters rx <n> tx <n> arp <n> icmp <n> udp <n> dropped <n>[ dhcp <n>][ sink <datagrams> <bytes>]
 *  [ merged <n>]" */
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
	if (r->options->net_dhcp) {
		text_add(t, " dhcp ");
		text_add_u64(t, r->dhcp_used);
	}
	if (r->options->net_sink_port != 0) {
		text_add(t, " sink ");
		text_add_u64(t, r->sink_datagrams);
		text_add(t, " ");
		text_add_u64(t, r->sink_bytes);
	}
	if (r->net.mergeable) {
		text_add(t, " merged ");
		text_add_u64(t, r->net.rx_merged);
	}
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
	uint32_t reboot_after = r->options->reboot_after_mcycles;
	if (reboot_after > 0 && now - r->started > (uint64_t)reboot_after * 1000000ull) {
		fw_printf("fw: rebooting\n");
		platform_reset();
	}
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

/* Ethernet + IPv4 header (no options) from `src_ip` for `payload_length` bytes of `proto`;
 * returns the payload's place. */
static uint8_t *put_ipv4_from(struct responder *r, uint8_t *frame, const uint8_t *dst_mac, uint32_t src_ip,
			      uint32_t dst_ip, uint8_t proto, uint32_t payload_length)
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
	put32(ip + 12, src_ip);
	put32(ip + 16, dst_ip);
	put16(ip + 10, csum_fold(csum_add(0, ip, IPV4_HLEN)));
	return ip + IPV4_HLEN;
}

/* The same from our own address. */
static uint8_t *put_ipv4(struct responder *r, uint8_t *frame, const uint8_t *dst_mac, uint32_t dst_ip, uint8_t proto,
			 uint32_t payload_length)
{
	return put_ipv4_from(r, frame, dst_mac, r->ip, dst_ip, proto, payload_length);
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

/* fw.net-ra: one ICMPv6 router advertisement to all nodes (ff02::1) from our link-local address
 * (fe80:: + the EUI-64 of our MAC), offering itself as the default router for 30 minutes and
 * the prefix 2001:db8:5:1::/64 for stateless autoconfiguration — what a hostile guest sends to
 * make its host take an address and route its IPv6 traffic to the guest. */
static void send_router_advertisement(struct responder *r)
{
	enum { IPV6_HLEN = 40, RA_LEN = 16, PREFIX_OPTION_LEN = 32, SOURCE_OPTION_LEN = 8 };
	static const uint8_t all_nodes_mac[6] = {0x33, 0x33, 0x00, 0x00, 0x00, 0x01};
	static const uint8_t prefix[16] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x05, 0x00, 0x01};
	const uint32_t icmp_length = RA_LEN + PREFIX_OPTION_LEN + SOURCE_OPTION_LEN;
	uint8_t *frame = tx_frame_wait(r);
	put_eth(r, frame, all_nodes_mac, 0x86dd);
	uint8_t *ip = frame + ETH_HLEN;
	memset(ip, 0, IPV6_HLEN + icmp_length);
	ip[0] = 0x60;
	put16(ip + 4, (uint16_t)icmp_length);
	ip[6] = 58;   /* ICMPv6 */
	ip[7] = 255;  /* hop limit: neighbour discovery demands 255 */
	uint8_t *src = ip + 8, *dst = ip + 24;
	src[0] = 0xfe;
	src[1] = 0x80;
	const uint8_t *mac = r->net.mac;
	src[8] = mac[0] ^ 0x02;
	src[9] = mac[1];
	src[10] = mac[2];
	src[11] = 0xff;
	src[12] = 0xfe;
	src[13] = mac[3];
	src[14] = mac[4];
	src[15] = mac[5];
	dst[0] = 0xff;
	dst[1] = 0x02;
	dst[15] = 0x01;
	uint8_t *ra = ip + IPV6_HLEN;
	ra[0] = 134; /* router advertisement */
	ra[4] = 64;  /* current hop limit */
	put16(ra + 6, 1800);
	uint8_t *option = ra + RA_LEN;
	option[0] = 3; /* prefix information */
	option[1] = 4;
	option[2] = 64;
	option[3] = 0xc0; /* on-link, autonomous */
	put32(option + 4, 86400);
	put32(option + 8, 14400);
	memcpy(option + 16, prefix, 16);
	option += PREFIX_OPTION_LEN;
	option[0] = 1; /* source link-layer address */
	option[1] = 1;
	memcpy(option + 2, mac, 6);
	/* The checksum covers the pseudo-header: both addresses, the length and the next header. */
	uint64_t sum = csum_add(0, src, 32);
	uint8_t tail[8] = {0, 0, (uint8_t)(icmp_length >> 8), (uint8_t)icmp_length, 0, 0, 0, 58};
	sum = csum_add(sum, tail, 8);
	sum = csum_add(sum, ra, icmp_length);
	put16(ra + 2, csum_fold(sum));
	tx_send(r, frame, ETH_HLEN + IPV6_HLEN + icmp_length, false);
	net_tx_kick(&r->net);
	fw_printf("fw: net0 sent a router advertisement for 2001:db8:5:1::/64\n");
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
	if (op == 1 && r->has_address && target_ip == r->ip) {
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

/* The length of the UDP datagram at `udp` (`length` bytes of IPv4 payload) when its length and
 * checksum (0: none, allowed over IPv4) are right, else 0. */
static uint32_t udp_check(uint32_t src_ip, uint32_t dst_ip, const uint8_t *udp, uint32_t length)
{
	if (length < UDP_HLEN)
		return 0;
	uint32_t udp_length = get16(udp + 4);
	if (udp_length < UDP_HLEN || udp_length > length)
		return 0;
	if (get16(udp + 6) != 0 &&
	    csum_fold(csum_add(pseudo_header(src_ip, dst_ip, IP_PROTO_UDP, udp_length), udp, udp_length)) != 0)
		return 0;
	return udp_length;
}

/* A UDP datagram while the DHCP client waits (any address: we have none yet). Taken only if it
 * is the awaited reply (dhcp.c checks op, xid, chaddr, the options), from port 67 to port 68,
 * sent to the broadcast address or the address it gives us (or that subnet's broadcast). */
static bool handle_dhcp(struct responder *r, uint32_t src_ip, uint32_t dst_ip, const uint8_t *udp, uint32_t length)
{
	uint32_t udp_length = udp_check(src_ip, dst_ip, udp, length);
	if (udp_length == 0 || get16(udp) != DHCP_SERVER_PORT || get16(udp + 2) != DHCP_CLIENT_PORT ||
	    r->dhcp_answered)
		return false;
	struct dhcp_reply *reply = &r->dhcp_reply;
	if (!dhcp_parse(udp + UDP_HLEN, udp_length - UDP_HLEN, r->dhcp_xid, r->net.mac, reply))
		return false;
	uint32_t yiaddr = reply->yiaddr;
	if (dst_ip != IP_BROADCAST && dst_ip != yiaddr && !(reply->has_mask && dst_ip == (yiaddr | ~reply->mask)))
		return false;
	bool unicast = yiaddr != 0 && (yiaddr >> 24) != 127 && (yiaddr >> 28) < 0xe;
	if (r->dhcp_state == DHCP_SELECTING) {
		if (reply->type != DHCP_OFFER || !unicast)
			return false;
		r->dhcp_offered = yiaddr;
		r->dhcp_server = reply->has_server_id ? reply->server_id : src_ip;
	} else {
		if (reply->has_server_id && reply->server_id != r->dhcp_server)
			return false; /* another server's (RFC 2131 4.3.2: not for us to take) */
		if (!(reply->type == DHCP_ACK && unicast) && reply->type != DHCP_NAK)
			return false;
	}
	r->dhcp_answered = true;
	r->dhcp_used++;
	return true;
}

static bool handle_udp(struct responder *r, const uint8_t *frame, uint32_t src_ip, uint32_t dst_ip,
		       const uint8_t *udp, uint32_t length)
{
	uint32_t udp_length = udp_check(src_ip, dst_ip, udp, length);
	if (udp_length == 0)
		return false; /* bad length or checksum */
	uint16_t src_port = get16(udp), dst_port = get16(udp + 2);
	const uint8_t *data = udp + UDP_HLEN;
	uint32_t data_length = udp_length - UDP_HLEN;
	if (dst_port == r->echo_port) {
		send_udp(r, frame + 6, src_ip, dst_port, src_port, data, data_length);
		r->udp++;
		return true;
	}
	if (r->options->net_sink_port != 0 && dst_port == r->options->net_sink_port) {
		r->sink_datagrams++;
		r->sink_bytes += data_length;
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
	if ((get16(ip + 6) & 0x3fff) != 0)
		return false; /* a fragment (MF or an offset) */
	if (src_ip == 0 || src_ip == IP_BROADCAST || (src_ip >> 28) == 0xe || (frame[6] & 1))
		return false; /* no reply to a source that is no unicast host */
	const uint8_t *payload = ip + header;
	uint32_t payload_length = total - header;
	if (r->dhcp_state != DHCP_IDLE && ip[9] == IP_PROTO_UDP)
		return handle_dhcp(r, src_ip, dst_ip, payload, payload_length);
	if (!r->has_address || dst_ip != r->ip)
		return false; /* not ours (or no address yet) */
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
	/* Off our subnet, through the router (when the lease named one). */
	uint32_t mask = r->prefix == 0 ? 0 : 0xffffffffu << (32 - r->prefix);
	bool off_link = ((o->net_bench_ip ^ r->ip) & mask) != 0;
	resolve(r, off_link && r->router != 0 ? r->router : o->net_bench_ip);
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
	uint32_t src_ip = o->net_src_ip != 0 ? o->net_src_ip : r->ip;
	if (o->net_src_ip != 0)
		fw_printf("fw~ net-bench: from the forged source %s\n", ip_text(src_ip).s);
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
		uint8_t *udp = put_ipv4_from(r, frame, mac, src_ip, dst_ip, IP_PROTO_UDP, UDP_HLEN + n);
		put16(udp, BENCH_SOURCE_PORT);
		put16(udp + 2, dst_port);
		put16(udp + 4, (uint16_t)(UDP_HLEN + n));
		put16(udp + 6, 0);
		uint8_t *data = udp + UDP_HLEN;
		memcpy(data, template, n);
		uint64_t seq = datagrams;
		for (unsigned i = 0; i < 8 && i < n; i++)
			data[i] = (uint8_t)(seq >> (8 * i));
		uint64_t sum = pseudo_header(src_ip, dst_ip, IP_PROTO_UDP, UDP_HLEN + n) + csum_add(0, udp, UDP_HLEN);
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

/* ---- fw.net=dhcp ---------------------------------------------------------------------------- */

#define DHCP_FAIL(r, format, ...)                                                                     \
	do {                                                                                          \
		fw_printf("fw: %s dhcp FAIL " format "\n", (r)->net.name, __VA_ARGS__);              \
		platform_debug_exit(FW_STATUS_DHCP_FAILED);                                           \
	} while (0)

/* A DHCPDISCOVER or DHCPREQUEST from 0.0.0.0:68 to 255.255.255.255:67 (Ethernet broadcast). */
static void dhcp_send(struct responder *r, uint8_t type)
{
	uint8_t message[DHCP_MESSAGE_BUILT];
	uint32_t n = dhcp_build(message, type, r->dhcp_xid, r->net.mac, r->dhcp_offered, r->dhcp_server);
	send_udp(r, broadcast_mac, IP_BROADCAST, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, message, n);
	net_tx_kick(&r->net);
}

/* Sends `type` until the awaited reply arrives (in r->dhcp_reply): at most DHCP_ATTEMPTS times,
 * DHCP_RETRY_TSC_CYCLES apart. False when none came (or the power button stopped the run). */
static bool dhcp_exchange(struct responder *r, uint8_t type)
{
	r->dhcp_answered = false;
	for (unsigned attempt = 0; attempt < DHCP_ATTEMPTS && !r->stop; attempt++) {
		dhcp_send(r, type);
		uint64_t start = rdtsc();
		while (rdtsc() - start < DHCP_RETRY_TSC_CYCLES && !r->stop) {
			if (!net_poll(r))
				cpu_pause();
			if (r->dhcp_answered)
				return true;
			housekeeping(r);
		}
	}
	return false;
}

/* The prefix length of a contiguous mask; -1 if it is not one. */
static int mask_prefix(uint32_t mask)
{
	int prefix = 0;
	while (prefix < 32 && (mask & (0x80000000u >> prefix)) != 0)
		prefix++;
	uint32_t contiguous = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
	return mask == contiguous ? prefix : -1;
}

/* "fw~ net0 dhcp <what> <name> <name> ...": names made printable by dhcp.c. */
static void print_names(const struct responder *r, const char *what, const struct dhcp_name *names, uint32_t count)
{
	fw_printf("fw~ %s dhcp %s", r->net.name, what);
	for (uint32_t i = 0; i < count; i++)
		fw_printf(" %s", names[i].text);
	fw_printf("\n");
}

/* The lease's lines; sets our address and prefix. */
static void dhcp_take_lease(struct responder *r)
{
	const struct dhcp_reply *a = &r->dhcp_reply;
	const char *name = r->net.name;
	r->ip = a->yiaddr;
	r->has_address = true;
	int prefix = a->has_mask ? mask_prefix(a->mask) : -1;
	if (prefix < 0) /* no (usable) subnet mask: the address's class */
		prefix = (r->ip >> 31) == 0 ? 8 : (r->ip >> 30) == 2 ? 16 : 24;
	r->prefix = (uint32_t)prefix;
	r->router = a->has_router ? a->router : 0;
	fw_printf("fw: %s dhcp lease %s/%u router %s server %s lease ", name, ip_text(r->ip).s, r->prefix,
		  a->has_router ? ip_text(a->router).s : "none", ip_text(r->dhcp_server).s);
	if (!a->has_lease)
		fw_printf("none\n");
	else if (a->lease == 0xffffffffu)
		fw_printf("infinite\n");
	else
		fw_printf("%u s\n", (unsigned)a->lease);
	if (a->dns_count > 0) {
		fw_printf("fw~ %s dhcp dns", name);
		for (uint32_t i = 0; i < a->dns_count; i++)
			fw_printf(" %s", ip_text(a->dns[i]).s);
		fw_printf("\n");
	}
	if (a->domain.length > 0)
		print_names(r, "domain", &a->domain, 1);
	if (a->search_count > 0)
		print_names(r, "search", a->search, a->search_count);
	if (a->search_bad)
		fw_printf("fw~ %s dhcp bad search list\n", name);
	if (a->has_mtu)
		fw_printf("fw~ %s dhcp mtu %u\n", name, (unsigned)a->mtu);
	if (a->hostname.length > 0)
		print_names(r, "hostname", &a->hostname, 1);
}

/* DISCOVER → OFFER → REQUEST → ACK; a NAK starts again (new xid). Fails (FW_STATUS_DHCP_FAILED)
 * without an OFFER or an answer to the REQUEST after DHCP_ATTEMPTS tries, or after too many
 * NAKs. False if the power button stopped the run meanwhile. */
static bool dhcp_acquire(struct responder *r)
{
	const char *name = r->net.name;
	if (r->net.mtu < DHCP_MIN_MTU)
		DHCP_FAIL(r, "mtu %u is below %u", (unsigned)r->net.mtu, (unsigned)DHCP_MIN_MTU);
	unsigned naks = 0;
	for (;;) {
		uint64_t tsc = rdtsc();
		const uint8_t *mac = r->net.mac;
		r->dhcp_xid = (uint32_t)tsc ^ (uint32_t)(tsc >> 32) ^ get32(mac + 2);
		fw_printf("fw~ %s dhcp discover xid 0x%08x\n", name, (unsigned)r->dhcp_xid);
		r->dhcp_state = DHCP_SELECTING;
		if (!dhcp_exchange(r, DHCP_DISCOVER)) {
			if (r->stop)
				return false;
			DHCP_FAIL(r, "no offer after %u discovers", (unsigned)DHCP_ATTEMPTS);
		}
		fw_printf("fw~ %s dhcp offer %s from %s\n", name, ip_text(r->dhcp_offered).s, ip_text(r->dhcp_server).s);
		r->dhcp_state = DHCP_REQUESTING;
		if (!dhcp_exchange(r, DHCP_REQUEST)) {
			if (r->stop)
				return false;
			DHCP_FAIL(r, "no ack after %u requests", (unsigned)DHCP_ATTEMPTS);
		}
		if (r->dhcp_reply.type == DHCP_ACK)
			break;
		fw_printf("fw~ %s dhcp nak from %s\n", name, ip_text(r->dhcp_server).s);
		if (++naks > DHCP_NAKS_MAX)
			DHCP_FAIL(r, "%u naks", naks);
	}
	r->dhcp_state = DHCP_IDLE;
	dhcp_take_lease(r);
	return true;
}

/* ---- fw.net --------------------------------------------------------------------------------- */

/* With our address: "fw: net0 ip", "fw: net ready" (and the boot timer), fw.net-bench,
 * fw.net-rx-pause, then the responder until the power button. */
static void serve(struct responder *r)
{
	const struct fw_options *options = r->options;
	fw_printf("fw: net0 ip %s/%u\n", ip_text(r->ip).s, (unsigned)r->prefix);
	fw_printf("fw: net ready\n");
	platform_signal_ready();

	if (options->net_ra)
		send_router_advertisement(r);
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
}

void net_responder(const struct fw_options *options)
{
	struct responder *r = &responder;
	*r = (struct responder){.options = options,
				.has_address = !options->net_dhcp,
				.ip = options->net_ip,
				.prefix = options->net_prefix,
				.echo_port = options->net_udp_echo_port};
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
	net_open(net, dev, "net0", (uint8_t *)(uintptr_t)base, size, options->net_rx_buffer);
	fw_printf("fw~ net0: device 0x%lx mtu %u%s, rx queue %u with %u buffers, tx queue %u with %u buffers, "
		  "%u-byte buffers%s\n",
		  (unsigned long)dev->base, (unsigned)net->mtu, net->has_mtu ? " (device)" : "", (unsigned)net->rxq->size,
		  net->rx_count, (unsigned)net->txq->size, net->tx_count, (unsigned)net->buffer_size,
		  dev->indirect ? ", indirect" : "");
	if (net->mergeable)
		fw_printf("fw~ net0: mergeable receive buffers of %u bytes\n", (unsigned)net->rx_size);
	const uint8_t *mac = net->mac;
	fw_printf("fw~ net0 mac %02x:%02x:%02x:%02x:%02x:%02x%s\n", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5],
		  net->mac_from_device ? "" : " (default: the device offers none)");
	fw_printf("fw: net0 link %s\n", net->link_up ? "up" : "down");
	r->button = power_button_present();
	r->last_housekeeping = rdtsc();
	r->started = r->last_housekeeping;
	if (!options->net_dhcp || dhcp_acquire(r))
		serve(r);
	fw_printf("fw: power button pressed\n");
	struct text t;
	counters_text(r, &t);
	fw_printf("fw: %.*s\n", (int)t.length, t.data);
	net_close(net);
}
