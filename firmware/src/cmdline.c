/*
 * cmdline.c — parse fw.* switches from the command line.
 *
 * Tokens are separated by spaces or tabs; there is no quoting. The last occurrence of a
 * switch wins; every virtio_mmio.device= token adds a device (in command-line order).
 */
#include "cmdline.h"

#include "lib.h"

/* Parses a decimal 0..255 (no sign, no leading '+', at most 3 digits). */
static bool parse_status(const char *s, uint32_t n, uint8_t *out)
{
	if (n == 0 || n > 3)
		return false;
	uint32_t value = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		value = value * 10 + (uint32_t)(s[i] - '0');
	}
	if (value > 255)
		return false;
	*out = (uint8_t)value;
	return true;
}

/* Parses a decimal in [min, max] (digits only, at most 10 of them). */
static bool parse_decimal(const char *s, uint32_t n, uint32_t min, uint32_t max, uint32_t *out)
{
	if (n == 0 || n > 10)
		return false;
	uint64_t value = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		value = value * 10 + (uint64_t)(s[i] - '0');
	}
	if (value < min || value > max)
		return false;
	*out = (uint32_t)value;
	return true;
}

/* fw.blk-bench's value: <read|write>,<MiB>,<request KiB>. */
static bool parse_blk_bench(const char *s, uint32_t n, struct fw_options *options)
{
	bool write;
	uint32_t skip;
	if (starts_with(s, n, "read,")) {
		write = false;
		skip = 5;
	} else if (starts_with(s, n, "write,")) {
		write = true;
		skip = 6;
	} else {
		return false;
	}
	s += skip;
	n -= skip;
	uint32_t comma = 0;
	while (comma < n && s[comma] != ',')
		comma++;
	uint32_t mib, kib;
	if (comma == n || !parse_decimal(s, comma, 1, BLK_BENCH_MAX_MIB, &mib) ||
	    !parse_decimal(s + comma + 1, n - comma - 1, 1, BLK_BENCH_MAX_REQUEST_KIB, &kib))
		return false;
	options->blk_bench = true;
	options->blk_bench_write = write;
	options->blk_bench_mib = mib;
	options->blk_bench_request_kib = kib;
	return true;
}

/* A dotted-quad IPv4 address (four decimals 0-255, 1-3 digits each) at the start of the n-byte
 * `s`; returns the characters consumed, 0 if there is none. */
static uint32_t parse_ipv4(const char *s, uint32_t n, uint32_t *out)
{
	uint32_t i = 0, address = 0;
	for (unsigned part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
		uint32_t digits = 0, value = 0;
		while (i < n && digits < 4 && s[i] >= '0' && s[i] <= '9') {
			value = value * 10 + (uint32_t)(s[i++] - '0');
			digits++;
		}
		if (digits == 0 || digits > 3 || value > 255)
			return 0;
		address = (address << 8) | value;
	}
	*out = address;
	return i;
}

/* fw.net's value: IP/PREFIX, or dhcp. */
static bool parse_net(const char *s, uint32_t n, struct fw_options *options)
{
	if (equals(s, n, "dhcp")) {
		options->net = true;
		options->net_dhcp = true;
		options->net_ip = 0;
		options->net_prefix = 0;
		return true;
	}
	uint32_t ip, prefix;
	uint32_t used = parse_ipv4(s, n, &ip);
	if (used == 0 || used >= n || s[used] != '/' || !parse_decimal(s + used + 1, n - used - 1, 0, 32, &prefix))
		return false;
	options->net = true;
	options->net_dhcp = false;
	options->net_ip = ip;
	options->net_prefix = prefix;
	return true;
}

/* fw.net-bench's value: DEST_IP:PORT,MiB,SIZE. */
static bool parse_net_bench(const char *s, uint32_t n, struct fw_options *options)
{
	uint32_t ip, port, mib, size;
	uint32_t used = parse_ipv4(s, n, &ip);
	if (used == 0 || used >= n || s[used] != ':')
		return false;
	s += used + 1;
	n -= used + 1;
	uint32_t comma1 = 0;
	while (comma1 < n && s[comma1] != ',')
		comma1++;
	if (comma1 == n || !parse_decimal(s, comma1, 1, 65535, &port))
		return false;
	s += comma1 + 1;
	n -= comma1 + 1;
	uint32_t comma2 = 0;
	while (comma2 < n && s[comma2] != ',')
		comma2++;
	if (comma2 == n || !parse_decimal(s, comma2, 1, NET_BENCH_MAX_MIB, &mib) ||
	    !parse_decimal(s + comma2 + 1, n - comma2 - 1, 1, NET_BENCH_MAX_SIZE, &size))
		return false;
	options->net_bench = true;
	options->net_bench_ip = ip;
	options->net_bench_port = (uint16_t)port;
	options->net_bench_mib = mib;
	options->net_bench_size = size;
	return true;
}

/*
 * An unsigned number the way Linux's simple_strtoull(s, &end, 0) reads it: "0x" + hex digits,
 * "0" + octal digits, or decimal digits. Stops at the first character that does not belong
 * to it. Returns the characters consumed, 0 if there is no number or it exceeds `limit`.
 */
static uint32_t parse_number(const char *s, uint32_t n, uint64_t limit, uint64_t *out)
{
	uint32_t i = 0;
	unsigned base = 10;
	if (n >= 3 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	} else if (n >= 1 && s[0] == '0') {
		base = 8;
	}
	uint32_t first_digit = i;
	uint64_t value = 0;
	for (; i < n; i++) {
		char c = s[i];
		unsigned digit;
		if (c >= '0' && c <= '9')
			digit = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			digit = (unsigned)(c - 'a') + 10;
		else if (c >= 'A' && c <= 'F')
			digit = (unsigned)(c - 'A') + 10;
		else
			break;
		if (digit >= base)
			break;
		if (value > (limit - digit) / base)
			return 0; /* beyond the limit (also keeps the arithmetic from overflowing) */
		value = value * base + digit;
	}
	if (i == first_digit)
		return 0;
	*out = value;
	return i;
}

#define MAPPED_LIMIT 0x100000000ull /* the page tables map 0 - 4 GiB */
#define VIRTIO_MMIO_MIN_SIZE 0x100  /* the registers; the device's config space follows */
#define IRQ_LIMIT 1023

/*
 * The value of a virtio_mmio.device= token: <size>@<base>:<irq>[:<id>] (Linux's
 * drivers/virtio/virtio_mmio.c: size through memparse, so with an optional K/M/G suffix;
 * base and irq numbers; the optional platform-device id is accepted and ignored). The region
 * must lie below 4 GiB (identity mapped, user accessible) and hold at least the registers.
 */
static bool parse_virtio_mmio(const char *s, uint32_t n, struct virtio_mmio_token *out)
{
	uint64_t size, base, irq;
	uint32_t used = parse_number(s, n, MAPPED_LIMIT, &size);
	if (used == 0)
		return false;
	s += used;
	n -= used;
	if (n > 0 && (*s == 'K' || *s == 'k' || *s == 'M' || *s == 'm' || *s == 'G' || *s == 'g')) {
		unsigned shift = (*s == 'K' || *s == 'k') ? 10 : (*s == 'M' || *s == 'm') ? 20 : 30;
		if (size > (MAPPED_LIMIT >> shift))
			return false;
		size <<= shift;
		s++;
		n--;
	}
	if (n == 0 || *s != '@')
		return false;
	s++;
	n--;
	used = parse_number(s, n, MAPPED_LIMIT, &base);
	if (used == 0)
		return false;
	s += used;
	n -= used;
	if (n == 0 || *s != ':')
		return false;
	s++;
	n--;
	/* The interrupt line is decimal ("%u" in Linux). */
	uint32_t digits = 0;
	irq = 0;
	while (digits < n && s[digits] >= '0' && s[digits] <= '9' && irq <= IRQ_LIMIT)
		irq = irq * 10 + (uint64_t)(s[digits++] - '0');
	if (digits == 0 || irq > IRQ_LIMIT)
		return false;
	s += digits;
	n -= digits;
	if (n > 0) {
		if (*s != ':' || n < 2)
			return false;
		s++;
		n--;
		for (uint32_t i = 0; i < n; i++) {
			if (s[i] < '0' || s[i] > '9')
				return false; /* the platform-device id: decimal, not used */
		}
	}
	if (size < VIRTIO_MMIO_MIN_SIZE || base >= MAPPED_LIMIT || size > MAPPED_LIMIT - base || (base & 3) != 0)
		return false;
	*out = (struct virtio_mmio_token){.base = base, .size = size, .irq = (uint32_t)irq};
	return true;
}

/* One fw.* token; false if it is unknown or malformed. */
static bool parse_switch(const char *token, uint32_t n, struct fw_options *options)
{
	static const char exit_prefix[] = "fw.exit=";
	static const char blk_mib_prefix[] = "fw.blk-mib=";
	static const char blk_queue_prefix[] = "fw.blk-queue=";
	static const char blk_bench_prefix[] = "fw.blk-bench=";
	static const char net_prefix[] = "fw.net=";
	static const char udp_echo_prefix[] = "fw.udp-echo=";
	static const char net_bench_prefix[] = "fw.net-bench=";
	if (starts_with(token, n, net_prefix)) {
		uint32_t skip = sizeof(net_prefix) - 1;
		return parse_net(token + skip, n - skip, options);
	}
	static const char rx_pause_prefix[] = "fw.net-rx-pause=";
	static const char rx_buffer_prefix[] = "fw.net-rx-buffer=";
	static const char sink_prefix[] = "fw.net-sink=";
	if (starts_with(token, n, rx_pause_prefix)) {
		uint32_t skip = sizeof(rx_pause_prefix) - 1, mcycles;
		if (!parse_decimal(token + skip, n - skip, 1, 1000000, &mcycles))
			return false;
		options->net_rx_pause_mcycles = mcycles;
		return true;
	}
	if (starts_with(token, n, udp_echo_prefix)) {
		uint32_t skip = sizeof(udp_echo_prefix) - 1, port;
		if (!parse_decimal(token + skip, n - skip, 1, 65535, &port) || port == NET_UDP_CONTROL_PORT)
			return false;
		options->net_udp_echo_port = (uint16_t)port;
		return true;
	}
	if (starts_with(token, n, net_bench_prefix)) {
		uint32_t skip = sizeof(net_bench_prefix) - 1;
		return parse_net_bench(token + skip, n - skip, options);
	}
	static const char net_src_prefix[] = "fw.net-src=";
	if (starts_with(token, n, net_src_prefix)) {
		uint32_t skip = sizeof(net_src_prefix) - 1, ip;
		if (parse_ipv4(token + skip, n - skip, &ip) != n - skip || ip == 0)
			return false;
		options->net_src_ip = ip;
		return true;
	}
	static const char reboot_after_prefix[] = "fw.reboot-after=";
	if (starts_with(token, n, reboot_after_prefix)) {
		uint32_t skip = sizeof(reboot_after_prefix) - 1;
		return parse_decimal(token + skip, n - skip, 1, 1000000, &options->reboot_after_mcycles);
	}
	if (equals(token, n, "fw.net-ra")) {
		options->net_ra = true;
		return true;
	}
	if (equals(token, n, "fw.test=rng")) {
		options->test = FW_TEST_RNG;
		return true;
	}
	if (equals(token, n, "fw.test=blk")) {
		options->test = FW_TEST_BLK;
		return true;
	}
	if (starts_with(token, n, blk_mib_prefix)) {
		uint32_t skip = sizeof(blk_mib_prefix) - 1;
		return parse_decimal(token + skip, n - skip, 1, BLK_TEST_MAX_MIB, &options->blk_test_mib);
	}
	if (starts_with(token, n, blk_queue_prefix)) {
		uint32_t skip = sizeof(blk_queue_prefix) - 1;
		return parse_decimal(token + skip, n - skip, 0, BLK_MAX_QUEUE_INDEX, &options->blk_queue);
	}
	if (starts_with(token, n, blk_bench_prefix)) {
		uint32_t skip = sizeof(blk_bench_prefix) - 1;
		return parse_blk_bench(token + skip, n - skip, options);
	}
	if (starts_with(token, n, sink_prefix)) {
		uint32_t skip = sizeof(sink_prefix) - 1;
		if (!parse_decimal(token + skip, n - skip, 1, 65535, &options->net_sink_port))
			return false;
		return options->net_sink_port != NET_UDP_CONTROL_PORT; /* port 9 answers "counters" */
	}
	if (starts_with(token, n, rx_buffer_prefix)) {
		uint32_t skip = sizeof(rx_buffer_prefix) - 1;
		return parse_decimal(token + skip, n - skip, NET_RX_BUFFER_MIN, NET_RX_BUFFER_MAX, &options->net_rx_buffer);
	}
	if (equals(token, n, "fw.virtio-features=plain")) {
		options->virtio_plain = true;
		return true;
	}
	if (equals(token, n, "fw.virtio-features=all")) {
		options->virtio_plain = false;
		return true;
	}
	if (equals(token, n, "fw.wait=button")) {
		options->wait_button = true;
		return true;
	}
	if (equals(token, n, "fw.wait=echo")) {
		options->wait_echo = true;
		return true;
	}
	if (equals(token, n, "fw.wait=idle")) {
		options->wait_idle = true;
		return true;
	}
	if (equals(token, n, "fw.wait=ticks")) {
		options->wait_ticks = true;
		return true;
	}
	if (equals(token, n, "fw.blk-flush-behind")) {
		options->blk_flush_behind = true;
		return true;
	}
	if (equals(token, n, "fw.blk-wait-button")) {
		options->blk_wait_button = true;
		return true;
	}
	if (equals(token, n, "fw.ignore-button")) {
		options->ignore_button = true;
		return true;
	}
	if (equals(token, n, "fw.fault")) {
		options->fault = true;
		return true;
	}
	if (starts_with(token, n, exit_prefix)) {
		uint32_t skip = sizeof(exit_prefix) - 1;
		if (!parse_status(token + skip, n - skip, &options->exit_status))
			return false;
		options->has_exit = true;
		return true;
	}
	return false;
}

bool cmdline_parse(const char *cmdline, struct fw_options *options, const char **bad, uint32_t *bad_length)
{
	static const char virtio_prefix[] = "virtio_mmio.device=";
	*options = (struct fw_options){.blk_test_mib = BLK_TEST_DEFAULT_MIB, .net_udp_echo_port = NET_UDP_ECHO_DEFAULT_PORT};
	const char *p = cmdline;
	/* The last fw.udp-echo= / fw.net-bench= token: an error without fw.net (no address). */
	const char *net_only = NULL;
	uint32_t net_only_length = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0') {
			if (net_only != NULL && !options->net) {
				*bad = net_only;
				*bad_length = net_only_length;
				return false;
			}
			return true;
		}
		const char *token = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		uint32_t n = (uint32_t)(p - token);
		bool ok = true;
		if (starts_with(token, n, "fw.")) {
			ok = parse_switch(token, n, options);
			if (starts_with(token, n, "fw.udp-echo=") || starts_with(token, n, "fw.net-bench=") ||
			    starts_with(token, n, "fw.net-rx-pause=") || starts_with(token, n, "fw.net-rx-buffer=") ||
			    starts_with(token, n, "fw.net-sink=") || starts_with(token, n, "fw.net-src=") ||
			    equals(token, n, "fw.net-ra") || starts_with(token, n, "fw.reboot-after=")) {
				net_only = token;
				net_only_length = n;
			}
		} else if (starts_with(token, n, virtio_prefix)) {
			struct virtio_mmio_token device;
			uint32_t skip = sizeof(virtio_prefix) - 1;
			ok = parse_virtio_mmio(token + skip, n - skip, &device);
			if (ok && options->virtio_mmio_count < VIRTIO_MMIO_MAX_DEVICES)
				options->virtio_mmio[options->virtio_mmio_count++] = device;
			else if (ok)
				options->virtio_mmio_dropped++;
		}
		if (!ok) {
			*bad = token;
			*bad_length = n;
			return false;
		}
	}
}
