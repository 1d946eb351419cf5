/*
 * trap.h — the IDT and the fatal-exception handler.
 */
#ifndef FW_TRAP_H
#define FW_TRAP_H

#include <stdint.h>

/* Fills the IDT's gates (the CPL-0 path only loaded its address). Runs first at CPL 3. */
void idt_init(void);

/* What isr.S leaves on the stack for fw_fatal_exception. */
struct trap_frame {
	uint64_t vector;
	uint64_t error_code; /* 0 for exceptions without one */
	uint64_t rip;
	uint64_t cs;
	uint64_t rflags;
	uint64_t rsp;
	uint64_t ss;
};

/* Called by isr.S at CPL 0 on any CPU exception. */
__attribute__((noreturn)) void fw_fatal_exception(struct trap_frame *frame);

#endif
