/*
 * cmdline.h — the firmware's command-line switches (fw.*). See README.md.
 */
#ifndef FW_CMDLINE_H
#define FW_CMDLINE_H

#include <stdbool.h>
#include <stdint.h>

struct fw_options {
	bool wait_button;   /* fw.wait=button: wait for the power button before the end */
	bool ignore_button; /* fw.ignore-button: with fw.wait=button, ignore presses forever */
	bool has_exit;      /* fw.exit=N: end through the debug-exit port instead of powering off */
	uint8_t exit_status;
	bool fault;         /* fw.fault: raise a CPU exception (ud2) after "fw: ready" */
};

/*
 * Parses the space-separated tokens of `cmdline`. Tokens that do not start with "fw." are
 * ignored (console=..., virtio_mmio.device=..., ...). Returns true on success; on an unknown
 * or malformed fw.* token returns false with `*bad`/`*bad_length` naming it.
 */
bool cmdline_parse(const char *cmdline, struct fw_options *options, const char **bad, uint32_t *bad_length);

#endif
