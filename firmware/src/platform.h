/*
 * platform.h — the platform devices: debug exit, power control, boot timer, power button.
 * Ports and addresses are in defs.h and README.md.
 */
#ifndef FW_PLATFORM_H
#define FW_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

/* Leaves through the debug-exit port with `status`; if the VM keeps running, halts. */
__attribute__((noreturn)) void platform_debug_exit(uint8_t status);

/* Powers off through the sleep control register; if the VM keeps running (e.g. under QEMU,
 * which has nothing at that port), leaves through the debug-exit port with status 0. */
__attribute__((noreturn)) void platform_power_off(void);
/* Resets the machine through the platform's reset register (port 0x602 ← 1). */
__attribute__((noreturn)) void platform_reset(void);

/* Signals "guest ready" to the boot timer (MMIO byte write). */
void platform_signal_ready(void);

/* Whether the power-button event device is present (its identification register). */
bool power_button_present(void);

/* Polls the power-button status register until bit 0 is set, then clears it (W1C). */
void power_button_wait_press(void);

/* One read of the power-button status: if bit 0 is set, clears it (W1C) and returns true. */
bool power_button_poll(void);

/* Halts this vCPU for good from CPL 3 (int3 through the DPL-3 #BP gate to a CPL-0 `hlt`;
 * isr.S). */
__attribute__((noreturn)) void platform_park(void);

#endif
