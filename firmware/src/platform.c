/*
 * platform.c — debug exit, power off, boot timer, power button (all at CPL 3).
 */
#include "platform.h"

#include "arch.h"
#include "console.h"
#include "defs.h"

/* pause instructions between two reads of the power-button status: every read is a VM exit,
 * so space them out a little (a few µs) without adding noticeable latency. */
#define BUTTON_POLL_PAUSES 64

void platform_debug_exit(uint8_t status)
{
	outb(PORT_DEBUG_EXIT, status);
	/* Still running: there is no debug-exit device. */
	fw_printf("fw: FAIL the debug-exit port did not stop the machine\n");
	platform_park();
}

void platform_power_off(void)
{
	outb(PORT_SLEEP_CONTROL, SLEEP_CONTROL_POWER_OFF);
	/* Still running: no power-control register (QEMU microvm). */
	platform_debug_exit(FW_STATUS_POWER_OFF_FALLBACK);
}

void platform_reset(void)
{
	outb(PORT_SLEEP_CONTROL + 2, 1);
	/* Still running: no reset register. */
	fw_printf("fw: FAIL the reset register did not reset the machine\n");
	platform_park();
}

void platform_signal_ready(void)
{
	mmio_write8(BOOT_TIMER_ADDR, BOOT_TIMER_READY);
}

bool power_button_present(void)
{
	return inl(PORT_BUTTON_ID) == BUTTON_ID_MAGIC;
}

void power_button_wait_press(void)
{
	while ((inl(PORT_BUTTON_STATUS) & BUTTON_PRESSED) == 0)
		pause_loop(BUTTON_POLL_PAUSES);
	outl(PORT_BUTTON_STATUS, BUTTON_PRESSED); /* write one to clear */
}

bool power_button_poll(void)
{
	if ((inl(PORT_BUTTON_STATUS) & BUTTON_PRESSED) == 0)
		return false;
	outl(PORT_BUTTON_STATUS, BUTTON_PRESSED); /* write one to clear */
	return true;
}
