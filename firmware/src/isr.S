/*
 * isr.S — interrupt entry stubs (CPL 0).
 *
 * Vectors 0-31 (CPU exceptions) are all fatal: each stub pushes a dummy error code if the
 * CPU does not push one, then the vector, and calls fw_fatal_exception(frame) in trap.c,
 * which prints "fw: FATAL exception N at RIP 0x..." and leaves through the debug-exit port.
 * The frame on the stack is then: vector, error code, RIP, CS, RFLAGS, RSP, SS.
 *
 * Parking from CPL 3: CPL-3 code has no `hlt`, so when the BSP has nothing left to do (the
 * exit ports did not stop the VM) it calls platform_park, which executes `int3`. The #BP
 * gate (vector 3) is the one gate with DPL 3; its stub halts the vCPU for good when the
 * breakpoint comes from platform_park, and reports any other breakpoint as fatal. (A
 * dedicated `int $N` vector does not work on PVM: a CPL-3 `int $N` other than int3 raises #UD
 * there, measured.) trap.c's idt_init() fills the gates from isr_table at CPL 3.
 */
#include "defs.h"

	.section .text
	.code64

/* Exceptions that push an error code: #DF 8, #TS 10, #NP 11, #SS 12, #GP 13, #PF 14,
 * #AC 17, #CP 21, #VC 29, #SX 30. */
.macro ISR vec
isr_\vec:
	.if \vec == 3
	/* #BP pushes no error code: the frame starts with RIP, the address after int3. */
	cmpq	$park_breakpoint_return, (%rsp)
	je	park_forever
	.endif
	.if (\vec == 8) || (\vec == 10) || (\vec == 11) || (\vec == 12) || (\vec == 13) || (\vec == 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq	$0
	.endif
	pushq	$\vec
	jmp	isr_common
.endm

	.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	ISR \vec
	.endr

isr_common:
	movq	%rsp, %rdi		/* struct trap_frame * */
	andq	$-16, %rsp		/* ABI stack alignment for the C call */
	call	fw_fatal_exception	/* does not return */
1:	cli
	hlt
	jmp	1b

park_forever:
	cli
1:	hlt
	jmp	1b

/* platform_park (platform.h), called at CPL 3: does not return. */
	.globl	platform_park
platform_park:
	int3
park_breakpoint_return:		/* never reached: the #BP stub above halts */
	jmp	platform_park

	.section .rodata
	.balign 8
	.globl	isr_table
isr_table:
	.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad	isr_\vec
	.endr

	.section .note.GNU-stack, "", @progbits
