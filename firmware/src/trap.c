/*
 * trap.c — IDT gates (filled at CPL 3, natively) and the fatal-exception report (CPL 0).
 */
#include "trap.h"

#include "arch.h"
#include "console.h"
#include "defs.h"

/* A 64-bit IDT gate. */
struct idt_gate {
	uint16_t offset_low;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attributes; /* P | DPL | type (0xe: 64-bit interrupt gate, clears IF) */
	uint16_t offset_middle;
	uint32_t offset_high;
	uint32_t reserved;
} __attribute__((packed));

_Static_assert(sizeof(struct idt_gate) == 16, "an IDT gate is 16 bytes");

#define GATE_INTERRUPT_DPL0 0x8e
#define GATE_INTERRUPT_DPL3 0xee

/* In .bss (zeroed before idt_init runs); tables.S's idt_desc points at it. */
struct idt_gate idt[IDT_ENTRIES] __attribute__((aligned(16)));

extern const uint64_t isr_table[FW_EXCEPTION_VECTORS]; /* isr.S */

#define VEC_BREAKPOINT 3

static void set_gate(unsigned vector, uint64_t handler, uint8_t type_attributes)
{
	idt[vector] = (struct idt_gate){
		.offset_low = (uint16_t)handler,
		.selector = SEL_KCODE64,
		.ist = 0,
		.type_attributes = type_attributes,
		.offset_middle = (uint16_t)(handler >> 16),
		.offset_high = (uint32_t)(handler >> 32),
		.reserved = 0,
	};
}

void idt_init(void)
{
	for (unsigned v = 0; v < FW_EXCEPTION_VECTORS; v++)
		set_gate(v, isr_table[v], GATE_INTERRUPT_DPL0);
	/* #BP is reachable from CPL 3: platform_park's int3 (see isr.S). */
	set_gate(VEC_BREAKPOINT, isr_table[VEC_BREAKPOINT], GATE_INTERRUPT_DPL3);
	/* Every other vector stays not-present: reaching one raises #GP/#NP, reported as such. */
}

static uint32_t fatal_entered;

void fw_fatal_exception(struct trap_frame *frame)
{
	/* One report only: a second exception (on this or another CPU) just leaves. */
	if (__atomic_fetch_add(&fatal_entered, 1, __ATOMIC_SEQ_CST) == 0) {
		uint64_t cr2;
		__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
		uint32_t a, b, c, d;
		cpuid(1, 0, &a, &b, &c, &d); /* at CPL 0: the VMM's APIC id */
		console_break_line();
		fw_printf("fw: FATAL exception %u at RIP 0x%lx\n", (unsigned)frame->vector,
			  (unsigned long)frame->rip);
		fw_printf("fw~ fatal: apic id %u error code 0x%lx cr2 0x%lx cs 0x%lx rflags 0x%lx rsp 0x%lx\n",
			  b >> 24, (unsigned long)frame->error_code, (unsigned long)cr2, (unsigned long)frame->cs,
			  (unsigned long)frame->rflags, (unsigned long)frame->rsp);
	}
	outb(PORT_DEBUG_EXIT, FW_STATUS_FATAL_EXCEPTION);
	for (;;)
		__asm__ volatile("cli; hlt");
}
