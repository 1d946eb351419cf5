/*
 * dhcp.h — the DHCPv4 messages of fw.net=dhcp (RFC 2131, options RFC 2132, the domain search
 * list RFC 3397): building DISCOVER and REQUEST, parsing (bounded) OFFER, ACK and NAK. No
 * I/O here: net_responder.c frames the messages (UDP 68 → 67) and runs the exchange.
 */
#ifndef FW_DHCP_H
#define FW_DHCP_H

#include <stdbool.h>
#include <stdint.h>

#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68

/* Message types (option 53). */
#define DHCP_DISCOVER 1
#define DHCP_OFFER 2
#define DHCP_REQUEST 3
#define DHCP_ACK 5
#define DHCP_NAK 6

/* The BOOTP minimum (RFC 1542 2.1): a built message is padded to this many bytes. */
#define DHCP_MESSAGE_MIN 300
/* Room a built message needs (it is always exactly this long). */
#define DHCP_MESSAGE_BUILT DHCP_MESSAGE_MIN

/* What is kept of a reply (more is ignored). */
#define DHCP_DNS_MAX 4     /* option 6: the first 4 servers */
#define DHCP_NAME_MAX 100  /* hostname, domain, each search name: cut to this many characters */
#define DHCP_SEARCH_MAX 4  /* option 119: the first 4 names */

/* A string received from the network, made printable: bytes outside '!'..'~' became '?'. */
struct dhcp_name {
	char text[DHCP_NAME_MAX + 1]; /* NUL-terminated */
	uint32_t length;              /* 0: absent */
};

/* A parsed BOOTREPLY for our xid and MAC. Addresses in host order; has_* = the option was
 * there with a valid length. */
struct dhcp_reply {
	uint8_t type;            /* option 53 */
	uint32_t yiaddr;         /* "your" address */
	bool has_server_id;      /* option 54 */
	uint32_t server_id;
	bool has_mask;           /* option 1 */
	uint32_t mask;
	bool has_router;         /* option 3: the first router */
	uint32_t router;
	bool has_lease;          /* option 51 (0xffffffff: infinite) */
	uint32_t lease;
	bool has_mtu;            /* option 26 */
	uint16_t mtu;
	uint32_t dns[DHCP_DNS_MAX]; /* option 6 */
	uint32_t dns_count;
	struct dhcp_name hostname; /* option 12 */
	struct dhcp_name domain;   /* option 15 */
	struct dhcp_name search[DHCP_SEARCH_MAX]; /* option 119, decoded */
	uint32_t search_count;
	bool search_bad;           /* option 119 was there but did not decode (or not entirely) */
};

/*
 * Builds a DHCPDISCOVER (type DHCP_DISCOVER) or DHCPREQUEST (DHCP_REQUEST: with option 50
 * `requested` and option 54 `server_id`) from a client without an address: BOOTREQUEST,
 * Ethernet, `xid`, secs 0, the BROADCAST flag, chaddr = `mac`; options 53, 61 (type 1 + MAC),
 * 55 (1, 3, 6, 12, 15, 26, 28, 51, 54, 119), [50, 54,] 255, zero-padded. Writes exactly
 * DHCP_MESSAGE_BUILT bytes to `out` and returns that.
 */
uint32_t dhcp_build(uint8_t *out, uint8_t type, uint32_t xid, const uint8_t mac[6], uint32_t requested,
		    uint32_t server_id);

/*
 * Parses the `length`-byte UDP payload `msg`. True if it is a BOOTREPLY (op 2, htype 1, hlen
 * 6) with our `xid`, our `mac` in chaddr, the magic cookie, well-formed options up to the
 * end option or the end of the data (every option's length checked against it; pad 0,
 * end 255; no overload) and a message type (option 53); `out` then holds what was found.
 * An option with an unexpected length is ignored; reads never leave msg[0..length).
 */
bool dhcp_parse(const uint8_t *msg, uint32_t length, uint32_t xid, const uint8_t mac[6], struct dhcp_reply *out);

#endif
