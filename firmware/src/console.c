/*
 * console.c — fw_printf over the serial port.
 */
#include "console.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "serial.h"

static bool at_line_start = true;

static void put_raw(char c)
{
	serial_putc(c);
	at_line_start = (c == '\n');
}

/* Text from arguments: no control characters (a command line could hold a newline). */
static void put_text(char c)
{
	put_raw((unsigned char)c < 0x20 || c == 0x7f ? '?' : c);
}

static void put_padded(const char *digits, int count, int width, bool zero_pad)
{
	for (int i = count; i < width; i++)
		put_raw(zero_pad ? '0' : ' ');
	while (count-- > 0)
		put_raw(digits[count]); /* digits are stored least significant first */
}

static void put_unsigned(uint64_t value, unsigned base, int width, bool zero_pad)
{
	char digits[24];
	int count = 0;
	do {
		digits[count++] = "0123456789abcdef"[value % base];
		value /= base;
	} while (value != 0);
	put_padded(digits, count, width, zero_pad);
}

void fw_printf(const char *format, ...)
{
	va_list args;
	va_start(args, format);
	for (const char *p = format; *p != '\0'; p++) {
		if (*p != '%') {
			put_raw(*p);
			continue;
		}
		p++;
		bool zero_pad = false;
		int width = 0;
		int length = 0; /* 0: int, 1: long, 2: long long */
		bool counted = false;
		if (*p == '0') {
			zero_pad = true;
			p++;
		}
		while (*p >= '0' && *p <= '9')
			width = width * 10 + (*p++ - '0');
		if (p[0] == '.' && p[1] == '*') {
			counted = true;
			p += 2;
		}
		while (*p == 'l') {
			length++;
			p++;
		}
		switch (*p) {
		case 's': {
			if (counted) {
				int n = va_arg(args, int);
				const char *s = va_arg(args, const char *);
				for (int i = 0; i < n; i++)
					put_text(s[i]);
			} else {
				const char *s = va_arg(args, const char *);
				while (*s != '\0')
					put_text(*s++);
			}
			break;
		}
		case 'c':
			put_text((char)va_arg(args, int));
			break;
		case 'd': {
			int64_t v = length == 0 ? va_arg(args, int) : length == 1 ? va_arg(args, long) : va_arg(args, long long);
			uint64_t magnitude = (uint64_t)v;
			if (v < 0) {
				put_raw('-');
				magnitude = -magnitude;
			}
			put_unsigned(magnitude, 10, width, zero_pad);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = length == 0 ? va_arg(args, unsigned) : length == 1 ? va_arg(args, unsigned long)
									  : va_arg(args, unsigned long long);
			put_unsigned(v, *p == 'u' ? 10 : 16, width, zero_pad);
			break;
		}
		case '%':
			put_raw('%');
			break;
		case '\0':
			p--; /* a lone '%' at the end: stop */
			break;
		default:
			put_raw('%');
			put_raw(*p);
			break;
		}
	}
	va_end(args);
}

void console_break_line(void)
{
	if (!at_line_start)
		put_raw('\n');
}
