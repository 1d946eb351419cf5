/*
 * wait_modes.h — the interactive waits: echo console input, or print TSC ticks, until the
 * power button is pressed.
 */
#ifndef FW_WAIT_MODES_H
#define FW_WAIT_MODES_H

/* fw.wait=echo: prints "fw: echo LINE" for every line received on COM1 (lines longer than
 * ECHO_LINE_MAX are echoed in pieces); returns when the power button is pressed. */
void wait_echo(void);

/* fw.wait=ticks: prints "fw: tick N" each time 2^26 TSC cycles have passed since the last
 * tick line; a paused machine prints none while paused (one line per resume, counting on from
 * where it was); returns when the power button is pressed. */
void wait_ticks(void);

#endif
