/*
 * dhcp.c — DHCPv4 messages for fw.net=dhcp (see dhcp.h): building DISCOVER / REQUEST and a
 * bounded parser for the server's replies.
 *
 * A message (RFC 2131 2): op, htype, hlen, hops, xid (4), secs (2), flags (2), ciaddr,
 * yiaddr, siaddr, giaddr (4 each), chaddr (16), sname (64), file (128), then the magic cookie
 * 99.130.83.99 and the options (RFC 2132: code, length, value; pad 0 and end 255 are single
 * bytes). Everything a server sends is untrusted: every read is checked against the message's
 * length, strings are made printable, and the domain search list (RFC 3397: RFC 1035 names,
 * with compression pointers into the concatenated option data) is decoded with pointers
 * allowed only backwards (below every position read so far) and at most 255 octets a name,
 * so it always ends.
 */
#include "dhcp.h"

#include "lib.h"

#define BOOTREQUEST 1
#define BOOTREPLY 2
#define HTYPE_ETHERNET 1
#define FLAG_BROADCAST 0x8000
#define MAGIC_COOKIE 0x63825363
#define OFFSET_XID 4
#define OFFSET_FLAGS 10
#define OFFSET_YIADDR 16
#define OFFSET_CHADDR 28
#define OFFSET_COOKIE 236
#define OFFSET_OPTIONS 240

#define OPTION_PAD 0
#define OPTION_SUBNET_MASK 1
#define OPTION_ROUTER 3
#define OPTION_DNS 6
#define OPTION_HOSTNAME 12
#define OPTION_DOMAIN 15
#define OPTION_MTU 26
#define OPTION_BROADCAST 28
#define OPTION_REQUESTED_IP 50
#define OPTION_LEASE_TIME 51
#define OPTION_MESSAGE_TYPE 53
#define OPTION_SERVER_ID 54
#define OPTION_PARAMETERS 55
#define OPTION_CLIENT_ID 61
#define OPTION_SEARCH 119
#define OPTION_END 255

/* Option 119 may come in several pieces (RFC 3396: concatenated); this much of it is kept. */
#define SEARCH_DATA_MAX 512
/* RFC 1035 3.1: a name is at most 255 octets on the wire (labels and their length bytes). */
#define NAME_WIRE_MAX 255
/* Compression pointers followed for one name (the backwards rule ends it anyway). */
#define NAME_JUMPS_MAX 32

static const uint8_t parameters[] = {
	OPTION_SUBNET_MASK, OPTION_ROUTER, OPTION_DNS, OPTION_HOSTNAME, OPTION_DOMAIN,
	OPTION_MTU, OPTION_BROADCAST, OPTION_LEASE_TIME, OPTION_SERVER_ID, OPTION_SEARCH,
};

/* The longest option list dhcp_build writes: 53, 61, 50, 54, 55, end. */
_Static_assert(OFFSET_OPTIONS + 3 + 9 + 6 + 6 + 2 + sizeof(parameters) + 1 <= DHCP_MESSAGE_BUILT,
	       "a built message fits the BOOTP minimum");

static uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint8_t *put_option32(uint8_t *p, uint8_t code, uint32_t value)
{
	p[0] = code;
	p[1] = 4;
	put32(p + 2, value);
	return p + 6;
}

uint32_t dhcp_build(uint8_t *out, uint8_t type, uint32_t xid, const uint8_t mac[6], uint32_t requested,
		    uint32_t server_id)
{
	memset(out, 0, DHCP_MESSAGE_BUILT);
	out[0] = BOOTREQUEST;
	out[1] = HTYPE_ETHERNET;
	out[2] = 6; /* hlen */
	put32(out + OFFSET_XID, xid);
	out[OFFSET_FLAGS] = FLAG_BROADCAST >> 8; /* answer by broadcast: we have no address yet */
	memcpy(out + OFFSET_CHADDR, mac, 6);
	put32(out + OFFSET_COOKIE, MAGIC_COOKIE);
	uint8_t *p = out + OFFSET_OPTIONS;
	*p++ = OPTION_MESSAGE_TYPE;
	*p++ = 1;
	*p++ = type;
	*p++ = OPTION_CLIENT_ID;
	*p++ = 7;
	*p++ = HTYPE_ETHERNET;
	memcpy(p, mac, 6);
	p += 6;
	if (type == DHCP_REQUEST) {
		p = put_option32(p, OPTION_REQUESTED_IP, requested);
		p = put_option32(p, OPTION_SERVER_ID, server_id);
	}
	*p++ = OPTION_PARAMETERS;
	*p++ = sizeof(parameters);
	memcpy(p, parameters, sizeof(parameters));
	p += sizeof(parameters);
	*p = OPTION_END; /* the rest stays zero: pad */
	return DHCP_MESSAGE_BUILT;
}

/* ---- Parsing ---------------------------------------------------------------------------------- */

/* Appends received bytes to a name, printable: '!'..'~' as they are, anything else '?'. */
static void name_append(struct dhcp_name *name, const uint8_t *bytes, uint32_t n)
{
	for (uint32_t i = 0; i < n && name->length < DHCP_NAME_MAX; i++) {
		uint8_t c = bytes[i];
		name->text[name->length++] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
	}
	name->text[name->length] = '\0';
}

/* A string option (hostname, domain): trailing NULs dropped (some servers count one). */
static void string_option(struct dhcp_name *name, const uint8_t *v, uint32_t n)
{
	if (name->length > 0)
		return; /* the first one counts */
	while (n > 0 && v[n - 1] == 0)
		n--;
	name_append(name, v, n);
}

/*
 * The RFC 1035 name at `pos` of data[0..n) into `name` (labels joined with '.'; the root name
 * gives length 0). Returns where the list continues (after the name's zero label, or after its
 * first compression pointer), or 0 if the name is malformed: it runs past the data, has a
 * label type other than 00 and 11, a pointer that does not point below every position read
 * so far, or more than 255 octets.
 */
static uint32_t decode_name(const uint8_t *data, uint32_t n, uint32_t pos, struct dhcp_name *name)
{
	uint32_t next = 0;     /* where the list continues, once a pointer was taken */
	uint32_t lowest = pos; /* the lowest position read so far */
	uint32_t wire = 0;     /* octets of the name so far */
	unsigned jumps = 0;
	name->length = 0;
	name->text[0] = '\0';
	for (;;) {
		if (pos >= n)
			return 0;
		uint8_t label = data[pos];
		if (label == 0)
			return next != 0 ? next : pos + 1;
		if ((label & 0xc0) == 0xc0) {
			if (pos + 1 >= n)
				return 0;
			uint32_t target = ((uint32_t)(label & 0x3f) << 8) | data[pos + 1];
			if (target >= lowest || ++jumps > NAME_JUMPS_MAX)
				return 0; /* forwards (or into itself): could loop */
			if (next == 0)
				next = pos + 2;
			pos = lowest = target;
			continue;
		}
		if ((label & 0xc0) != 0)
			return 0; /* 01 and 10: extended label types, not for names here */
		if (label > n - pos - 1)
			return 0;
		wire += 1u + label;
		if (wire + 1 > NAME_WIRE_MAX)
			return 0; /* with the zero label */
		if (name->length > 0)
			name_append(name, (const uint8_t *)".", 1);
		name_append(name, data + pos + 1, label);
		pos += 1u + label;
	}
}

/* Option 119's data: up to DHCP_SEARCH_MAX names (root names skipped). */
static void decode_search(const uint8_t *data, uint32_t n, bool truncated, struct dhcp_reply *out)
{
	uint32_t pos = 0;
	while (pos < n && out->search_count < DHCP_SEARCH_MAX) {
		struct dhcp_name *name = &out->search[out->search_count];
		uint32_t next = decode_name(data, n, pos, name);
		if (next == 0) {
			name->length = 0;
			name->text[0] = '\0';
			out->search_bad = true;
			return;
		}
		if (name->length > 0)
			out->search_count++;
		pos = next;
	}
	if (truncated && pos < n)
		out->search_bad = true;
}

/* One option of `n` bytes at `v` (inside the message). Unexpected lengths: ignored. */
static void take_option(struct dhcp_reply *out, uint8_t code, const uint8_t *v, uint32_t n)
{
	switch (code) {
	case OPTION_MESSAGE_TYPE:
		if (n == 1 && out->type == 0)
			out->type = v[0];
		break;
	case OPTION_SERVER_ID:
		if (n == 4 && !out->has_server_id) {
			out->has_server_id = true;
			out->server_id = get32(v);
		}
		break;
	case OPTION_SUBNET_MASK:
		if (n == 4 && !out->has_mask) {
			out->has_mask = true;
			out->mask = get32(v);
		}
		break;
	case OPTION_ROUTER:
		if (n >= 4 && n % 4 == 0 && !out->has_router) {
			out->has_router = true;
			out->router = get32(v);
		}
		break;
	case OPTION_DNS:
		for (uint32_t i = 0; n % 4 == 0 && i < n && out->dns_count < DHCP_DNS_MAX; i += 4)
			out->dns[out->dns_count++] = get32(v + i);
		break;
	case OPTION_LEASE_TIME:
		if (n == 4 && !out->has_lease) {
			out->has_lease = true;
			out->lease = get32(v);
		}
		break;
	case OPTION_MTU:
		if (n == 2 && !out->has_mtu) {
			out->has_mtu = true;
			out->mtu = (uint16_t)((v[0] << 8) | v[1]);
		}
		break;
	case OPTION_HOSTNAME:
		string_option(&out->hostname, v, n);
		break;
	case OPTION_DOMAIN:
		string_option(&out->domain, v, n);
		break;
	default:
		break;
	}
}

bool dhcp_parse(const uint8_t *msg, uint32_t length, uint32_t xid, const uint8_t mac[6], struct dhcp_reply *out)
{
	if (length < OFFSET_OPTIONS || msg[0] != BOOTREPLY || msg[1] != HTYPE_ETHERNET || msg[2] != 6)
		return false;
	if (get32(msg + OFFSET_XID) != xid || memcmp(msg + OFFSET_CHADDR, mac, 6) != 0 ||
	    get32(msg + OFFSET_COOKIE) != MAGIC_COOKIE)
		return false;
	memset(out, 0, sizeof(*out));
	out->yiaddr = get32(msg + OFFSET_YIADDR);
	uint8_t search[SEARCH_DATA_MAX];
	uint32_t search_length = 0;
	bool search_truncated = false, search_seen = false;
	uint32_t i = OFFSET_OPTIONS;
	while (i < length) {
		uint8_t code = msg[i];
		if (code == OPTION_PAD) {
			i++;
			continue;
		}
		if (code == OPTION_END)
			break;
		if (length - i < 2)
			return false; /* no length byte */
		uint32_t n = msg[i + 1];
		if (n > length - i - 2)
			return false; /* runs past the message */
		const uint8_t *v = msg + i + 2;
		if (code == OPTION_SEARCH) {
			search_seen = true;
			uint32_t room = SEARCH_DATA_MAX - search_length;
			uint32_t take = n < room ? n : room;
			memcpy(search + search_length, v, take);
			search_length += take;
			if (take < n)
				search_truncated = true;
		} else {
			take_option(out, code, v, n);
		}
		i += 2 + n;
	}
	if (out->type == 0)
		return false; /* BOOTP, not DHCP */
	if (search_seen)
		decode_search(search, search_length, search_truncated, out);
	return true;
}
