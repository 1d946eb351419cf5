/*
 * cmdline.c — parse fw.* switches from the command line.
 *
 * Tokens are separated by spaces or tabs; there is no quoting. The last occurrence of a
 * switch wins.
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

/* One fw.* token; false if it is unknown or malformed. */
static bool parse_switch(const char *token, uint32_t n, struct fw_options *options)
{
	static const char exit_prefix[] = "fw.exit=";
	if (equals(token, n, "fw.wait=button")) {
		options->wait_button = true;
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
	*options = (struct fw_options){0};
	const char *p = cmdline;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return true;
		const char *token = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		uint32_t n = (uint32_t)(p - token);
		if (starts_with(token, n, "fw.") && !parse_switch(token, n, options)) {
			*bad = token;
			*bad_length = n;
			return false;
		}
	}
}
