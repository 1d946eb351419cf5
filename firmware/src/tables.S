/*
 * tables.S — the descriptor tables and page tables, laid out at link time so that the
 * (emulated) CPL-0 boot path has almost nothing to build: it points the CPU at them.
 *
 *   gdt       flat segments for CPL 0 and CPL 3, the TSS, a 32-bit code segment for APs
 *   pd        identity map of the first 4 GiB with 2 MiB pages, user accessible (CPL 3 code
 *             touches RAM, the boot-timer MMIO at 0xd0000000 and the xAPIC at 0xfee00000)
 *   pml4/pdpt the two upper page-table levels (5 non-zero entries)
 *   tss       64-bit TSS: RSP0 (stack for exceptions taken at CPL 3) and an I/O permission
 *             bitmap of all zeros, which opens all 65536 ports to CPL 3
 *
 * The mostly-zero structures (pml4, pdpt, tss: 16 KiB) are not stored in the file: they live
 * in the .noinit section, which the loader zero-fills like any ELF p_memsz beyond p_filesz,
 * and the BSP's CPL-0 path writes their 8 non-zero fields (entry.S). The page directories
 * (16 KiB of distinct entries) and the GDT are stored as they are.
 *
 * The TSS descriptor's base is scattered over several bit fields; the linker script (fw.ld)
 * computes the two quadwords (__tss_desc_lo/__tss_desc_hi) from the TSS's address.
 */
#include "defs.h"

/* ---- GDT ----------------------------------------------------------------------------------
 * Code/data descriptors: base 0, limit 0xfffff pages (ignored in 64-bit mode). Accessed bits
 * are preset so the CPU never writes the table when loading a selector.
 *   access 0x9b: present, DPL 0, code, readable, accessed    0x93: DPL 0 data, writable
 *   access 0xfb: DPL 3 code                                  0xf3: DPL 3 data
 *   flags  0xa : 4 KiB granularity, 64-bit code (L)          0xc : 4 KiB granularity, 32-bit
 */
	.section .data
	.balign 16
	.globl	gdt
gdt:
	.quad	0			/* 0x00 null */
	.quad	0x00af9b000000ffff	/* 0x08 SEL_KCODE64: CPL-0 64-bit code */
	.quad	0x00cf93000000ffff	/* 0x10 SEL_KDATA: CPL-0 data (flat, 32-bit capable) */
	.quad	0x00cff3000000ffff	/* 0x18 SEL_UDATA: CPL-3 data */
	.quad	0x00affb000000ffff	/* 0x20 SEL_UCODE64: CPL-3 64-bit code */
	.quad	__tss_desc_lo		/* 0x28 SEL_TSS: available 64-bit TSS (type 9) ... */
	.quad	__tss_desc_hi		/*      ... upper 32 bits of the base */
	.quad	0x00cf9b000000ffff	/* 0x38 SEL_KCODE32: CPL-0 32-bit code (AP path) */
gdt_end:
	.if	gdt_end - gdt - 1 != GDT_LIMIT
	.error	"GDT size does not match GDT_LIMIT in defs.h"
	.endif

	/* Pseudo-descriptors for lgdt (read as limit + 32-bit base in 32-bit mode) and lidt. */
	.balign 8
	.globl	gdt_desc, idt_desc
gdt_desc:
	.word	GDT_LIMIT
	.quad	gdt
	.balign 8
idt_desc:
	.word	IDT_ENTRIES * 16 - 1
	.quad	idt			/* struct idt_gate idt[256] in .bss (trap.c) */

/* ---- Page directories ---------------------------------------------------------------------
 * Four page directories of 512 2-MiB pages each: 0-4 GiB, present, writable and user
 * accessible. The last GiB (0xc0000000 and up: the MMIO hole with the boot timer and the
 * local APIC) is mapped uncached (PCD|PWT). PDPT[0..3] point here (written in entry.S).
 */
#define PAGE_2M_FLAGS (PTE_P | PTE_W | PTE_U | PTE_PS)
#define PAGE_2M_MMIO_FLAGS (PAGE_2M_FLAGS | PTE_PCD | PTE_PWT)

	.section .data.pagetables, "aw"
	.balign 4096
	.globl	pd
pd:
	.set	page, 0
	.rept	3 * 512			/* 0 - 3 GiB: RAM, write-back */
	.quad	page | PAGE_2M_FLAGS
	.set	page, page + 0x200000
	.endr
	.rept	512			/* 3 - 4 GiB: MMIO, uncached */
	.quad	page | PAGE_2M_MMIO_FLAGS
	.set	page, page + 0x200000
	.endr

/* ---- Zero-filled at load, never cleared by the firmware (.noinit, see fw.ld) -------------- */
	.section .noinit, "aw", @nobits

/* PML4[0] -> PDPT; PDPT[i] -> pd + i * 4 KiB (i = 0..3). Written by entry.S before paging. */
	.balign 4096
	.globl	pml4, pdpt
pml4:
	.skip	4096
pdpt:
	.skip	4096

/* 64-bit TSS: 104-byte header, then the I/O permission bitmap: one bit per port, 0 = allowed.
 * All zeros (from the loader's zero fill) opens every port. entry.S writes the non-zero
 * fields: RSP0 (offset 4), the I/O map base (offset 102) = TSS_IOMAP_OFFSET, and the byte
 * after the map: the CPU reads two bytes of the bitmap per check, so the map must be followed
 * by an all-ones byte inside the limit. The limit (fw.ld) is tss_end - tss - 1 = 0x2068.
 */
	.balign 16
	.globl	tss, tss_end
tss:
	.skip	TSS_IOMAP_OFFSET
	.skip	65536 / 8 + 1
tss_end:

/* Stacks. */
	.balign 4096
	.globl	bsp_user_stack_top, bsp_kernel_stack_top, ap_stacks
bsp_user_stack:
	.skip	BSP_USER_STACK_SIZE
bsp_user_stack_top:
bsp_kernel_stack:
	.skip	BSP_KERNEL_STACK_SIZE
bsp_kernel_stack_top:
ap_stacks:				/* AP with APIC id n: top = ap_stacks + (n + 1) << AP_STACK_SHIFT */
	.skip	FW_MAX_CPUS << AP_STACK_SHIFT

	.section .note.GNU-stack, "", @progbits
