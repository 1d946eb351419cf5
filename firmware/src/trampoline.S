/*
 * trampoline.S — the APs' real-mode start code.
 *
 * An AP starts in real mode at CS:IP = (vector << 8):0000 after the SIPI. These bytes are
 * linked into .rodata and copied by the BSP (smp.c, at CPL 3) to TRAMPOLINE_ADDR (below
 * 1 MiB, page aligned) before it sends INIT/SIPI/SIPI. The code is position independent:
 * it addresses its own data through CS, whose base is TRAMPOLINE_ADDR.
 *
 * Six instructions, all emulated: load the firmware's GDT (32-bit base, hence lgdtl), enter
 * protected mode, far-jump into 32-bit code in the image (entry.S: ap_start32), which goes on
 * to long mode exactly as the BSP did.
 */
#include "defs.h"

	.section .rodata.trampoline, "a"
	.code16
	.globl	trampoline_start, trampoline_end
trampoline_start:
	cli
	lgdtl	%cs:(trampoline_gdt_desc - trampoline_start)
	movl	$CR0_PE, %eax		/* protection on, paging off; clears CD/NW left by INIT */
	movl	%eax, %cr0
	ljmpl	$SEL_KCODE32, $ap_start32	/* 32-bit offset: the image is above 1 MiB */

	.balign 4
trampoline_gdt_desc:			/* what lgdtl reads: 16-bit limit, 32-bit base */
	.word	GDT_LIMIT
	.long	gdt
trampoline_end:

	.section .note.GNU-stack, "", @progbits
