/*
 * wait_modes.c — fw.wait=echo and fw.wait=ticks (see wait_modes.h). Both poll: the serial
 * line status and the power-button status are port reads (VM exits), spaced with pause loops.
 */
#include "wait_modes.h"

#include <stdbool.h>
#include <stdint.h>

#include "arch.h"
#include "console.h"
#include "platform.h"
#include "serial.h"

#define ECHO_LINE_MAX 120
#define TICK_CYCLES (1ull << 26)
#define POLL_PAUSES 256

void wait_echo(void)
{
	char line[ECHO_LINE_MAX + 1];
	unsigned length = 0;
	fw_printf("fw: echoing console input\n");
	for (;;) {
		int c = serial_getc();
		if (c < 0) {
			if (power_button_poll())
				break;
			pause_loop(POLL_PAUSES);
			continue;
		}
		if (c == '\r')
			continue;
		if (c != '\n')
			line[length++] = (char)c;
		if (c == '\n' || length == ECHO_LINE_MAX) {
			line[length] = '\0';
			fw_printf("fw: echo %s\n", line);
			length = 0;
		}
	}
	fw_printf("fw: power button pressed\n");
}

void wait_ticks(void)
{
	uint64_t ticks = 0;
	uint64_t last = rdtsc();
	fw_printf("fw: ticking\n");
	for (;;) {
		uint64_t now = rdtsc();
		if (now - last >= TICK_CYCLES) {
			/* One line however long the gap was (a pause shows as one late tick). */
			ticks++;
			last = now;
			fw_printf("fw: tick %u\n", (unsigned)ticks);
		}
		if (power_button_poll())
			break;
		pause_loop(POLL_PAUSES);
	}
	fw_printf("fw: power button pressed\n");
}
