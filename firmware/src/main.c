/*
 * main.c — the firmware's flow at CPL 3 (entered from entry.S's user_start).
 *
 *   banner, command line, memory map, virtio-mmio devices, vCPU count, start the APs,
 *   "fw: ready" + boot timer, the self-test fw.test asks for (if any), the fw.blk-bench
 *   benchmark (if asked for), the fw.net network responder (if asked for: it runs until the
 *   power button), then what the command line asks: power off (default), wait for the power
 *   button, or leave through the debug-exit port with a given status.
 */
#include <stdint.h>

#include "blk_test.h"
#include "bootinfo.h"
#include "cmdline.h"
#include "console.h"
#include "defs.h"
#include "net_responder.h"
#include "platform.h"
#include "serial.h"
#include "smp.h"
#include "trap.h"
#include "virtio.h"
#include "virtio_rng.h"
#include "wait_modes.h"

__attribute__((noreturn)) void fw_main(uint64_t start_info_paddr);

/* The end of the run: fw.exit=N, or power off. */
__attribute__((noreturn)) static void finish(const struct fw_options *options)
{
	if (options->has_exit) {
		fw_printf("fw: exit %u\n", (unsigned)options->exit_status);
		platform_debug_exit(options->exit_status);
	}

	fw_printf("fw: powering off\n");
	platform_power_off();
}

/* The waits end with the power button: without one (QEMU microvm) they would never end. */
static void require_power_button(void)
{
	if (!power_button_present()) {
		fw_printf("fw: FAIL no power button device\n");
		platform_debug_exit(FW_STATUS_NO_POWER_BUTTON);
	}
}

__attribute__((noreturn)) static void wait_for_power_button(const struct fw_options *options)
{
	require_power_button();
	fw_printf("fw: waiting for the power button\n");
	for (;;) {
		power_button_wait_press();
		if (!options->ignore_button)
			break;
		fw_printf("fw: power button pressed (ignored)\n");
	}
	fw_printf("fw: power button pressed\n");
	finish(options);
}

void fw_main(uint64_t start_info_paddr)
{
	idt_init();
	/* Before anything writes low memory (the AP trampoline goes to 0x8000). */
	const char *boot_info_error = boot_info_copy(start_info_paddr);
	serial_init();

	fw_printf("fw: SwiftVMM test firmware %u\n", FW_VERSION);
	if (boot_info_error != NULL) {
		fw_printf("fw: FAIL bad boot information: %s\n", boot_info_error);
		platform_debug_exit(FW_STATUS_BAD_BOOT_INFO);
	}

	boot_info_print_cmdline();
	struct fw_options options;
	const char *bad;
	uint32_t bad_length;
	if (!cmdline_parse(boot_info.cmdline, &options, &bad, &bad_length)) {
		fw_printf("fw: FAIL bad switch %.*s\n", (int)bad_length, bad);
		platform_debug_exit(FW_STATUS_BAD_SWITCH);
	}

	boot_info_print_memmap();
	virtio_discover(&options);

	unsigned cpus = smp_cpu_count();
	fw_printf("fw: cpus %u\n", cpus);
	smp_boot(cpus);

	fw_printf("fw: ready\n");
	platform_signal_ready();

	if (options.fault)
		__asm__ volatile("ud2"); /* tests the fatal-exception path: #UD (6) at CPL 3 */

	switch (options.test) {
	case FW_TEST_NONE:
		break;
	case FW_TEST_RNG:
		virtio_rng_test();
		break;
	case FW_TEST_BLK:
		blk_test(&options);
		break;
	}
	if (options.blk_bench)
		blk_bench(&options);
	if (options.net) {
		/* Answers the network until the power button (it waits for the button itself). */
		net_responder(&options);
		finish(&options);
	}

	if (options.wait_echo || options.wait_ticks) {
		require_power_button();
		if (options.wait_echo)
			wait_echo();
		else
			wait_ticks();
		finish(&options);
	}
	if (options.wait_button)
		wait_for_power_button(&options);
	if (options.wait_idle) {
		/* Idle until the power button, or for ever without one (QEMU microvm): for measuring
		 * a VMM at rest (the host ends the run). */
		fw_printf("fw: idle\n");
		if (power_button_present())
			wait_for_power_button(&options);
		for (;;)
			__asm__ volatile("pause");
	}
	finish(&options);
}
