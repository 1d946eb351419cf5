/*
 * entry.S — the CPL-0 boot path of the BSP and of the APs.
 *
 * Everything in this file runs at CPL 0 (or in 32-bit protected mode), which on the PVM
 * flavour of KVM that SwiftVMM's CI uses is EMULATED instruction by instruction (about
 * 0.5 µs each). So this path does as little as possible: the GDT and the page directories
 * are prebuilt at link time (tables.S); the mostly-zero tables (PML4, PDPT, and the TSS with
 * its all-zero I/O permission bitmap) come zero-filled from the loader and the BSP writes
 * their 8 non-zero fields; the IDT's gates are filled later at CPL 3 (trap.c). The BSP
 * executes about 55 instructions here before it drops to CPL 3 with `iretq`; an AP about 30
 * (plus the 5 of the real-mode trampoline) before it parks in `cli; hlt`.
 *
 * Register conventions across the BSP path: ESI/RSI holds the physical address of
 * `struct hvm_start_info` from PVH entry until it reaches C (as RDI, the first argument).
 */
#include "defs.h"

/* -------------------------------------------------------------------------------------------
 * The PVH entry note (read by the loader, not by the CPU): XEN_ELFNOTE_PHYS32_ENTRY with an
 * 8-byte descriptor, as Linux's vmlinux has it. QEMU reads 8 bytes here for an ELF64 image.
 * ------------------------------------------------------------------------------------------- */
	.section .note.Xen, "a"
	.balign 4
	.long 4				/* n_namesz: "Xen\0" */
	.long 8				/* n_descsz */
	.long XEN_ELFNOTE_PHYS32_ENTRY	/* n_type */
	.asciz "Xen"
	.quad pvh_start32		/* the 32-bit entry point (physical) */

/*
 * ENTER_LONG_MODE target — from 32-bit protected mode (paging off, flat DS, our GDT loaded)
 * to 64-bit mode at CPL 0, then a far jump to `target` in the 64-bit code segment.
 * Control registers are written with complete values rather than read-modify-write: the
 * state on entry (PVH, or INIT for an AP) is known, and this saves emulated instructions.
 */
.macro ENTER_LONG_MODE target
	movl	$pml4, %eax		/* identity map of 0-4 GiB (tables.S) */
	movl	%eax, %cr3
	movl	$CR4_PAE, %eax		/* long mode needs PAE paging; nothing else (no SSE) */
	movl	%eax, %cr4
	movl	$MSR_EFER, %ecx		/* EFER.LME: long mode once paging is turned on */
	movl	$EFER_LME, %eax
	xorl	%edx, %edx
	wrmsr
	/* Protection + paging (activates long mode, in compatibility mode until the jump);
	 * CD and NW are cleared (they are set after INIT). */
	movl	$(CR0_PE | CR0_ET | CR0_NE | CR0_WP | CR0_PG), %eax
	movl	%eax, %cr0
	ljmpl	$SEL_KCODE64, $\target	/* load a 64-bit CS */
.endm

/* -------------------------------------------------------------------------------------------
 * BSP: PVH entry. 32-bit protected mode, paging off, flat CS/DS/ES/SS from the loader's GDT,
 * EBX = physical address of struct hvm_start_info. No stack is guaranteed, and none is used
 * until 64-bit mode.
 * ------------------------------------------------------------------------------------------- */
	.section .text.entry, "ax"
	.code32
	.globl	pvh_start32
pvh_start32:
	cli				/* the ABI says interrupts are off; make sure */
	cld				/* DF = 0 also for the CPL-3 code after iretq */
	movl	%ebx, %esi		/* keep start_info; EBX is clobbered by CPUID below */

	/* The non-zero fields of the zero-filled tables (tables.S, section .noinit): the upper
	 * page-table levels PML4[0] -> PDPT -> the four prebuilt page directories (0-4 GiB)... */
	movl	$(pdpt + TABLE_FLAGS), pml4
	movl	$(pd + 0x0000 + TABLE_FLAGS), pdpt + 0
	movl	$(pd + 0x1000 + TABLE_FLAGS), pdpt + 8
	movl	$(pd + 0x2000 + TABLE_FLAGS), pdpt + 16
	movl	$(pd + 0x3000 + TABLE_FLAGS), pdpt + 24
	/* ... and the TSS: RSP0 (the upper half stays 0), where the I/O bitmap starts, and the
	 * all-ones byte after the bitmap. The bitmap itself stays all zeros: every port open. */
	movl	$bsp_kernel_stack_top, tss + TSS_RSP0
	movw	$TSS_IOMAP_OFFSET, tss + TSS_IOMAP_BASE
	movb	$0xff, tss_end - 1

	lgdtl	gdt_desc		/* our GDT (tables.S); the loader's may be anywhere */
	ENTER_LONG_MODE bsp_start64

	.code64
bsp_start64:
	/* Data segments: SS must be a valid CPL-0 data segment; DS/ES too (the loader's
	 * selectors refer to its GDT, not ours). FS/GS are unused: null. */
	movl	$SEL_KDATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	xorl	%eax, %eax
	movl	%eax, %fs
	movl	%eax, %gs
	movq	$bsp_kernel_stack_top, %rsp	/* the same stack is TSS.RSP0 (exceptions at CPL 3) */

	/* The TSS: RSP0 for exceptions taken at CPL 3, and the I/O permission bitmap that
	 * opens every port to CPL 3 (IOPL stays 0: PVM clears it on iret anyway). */
	movl	$SEL_TSS, %eax
	ltr	%ax
	/* The IDT: its gates are zero here and are filled at CPL 3 by idt_init() (trap.c) as
	 * the first thing C does; an exception before that triple-faults (resets the VM). */
	lidt	idt_desc(%rip)

	/* CPUID at CPL 0: at CPL 3 PVM does not intercept CPUID (it would return the host's
	 * values); here the VMM's values come back. Results go to boot_cpuid (.data, not .bss,
	 * which is zeroed later at CPL 3). */
	xorl	%eax, %eax
	cpuid				/* EAX = highest basic leaf */
	movl	%eax, boot_cpuid+BOOT_CPUID_MAX_LEAF(%rip)
	movl	%eax, %edi
	movl	$1, %eax
	cpuid				/* EBX[31:24] = this CPU's initial APIC id */
	movl	%ebx, boot_cpuid+BOOT_CPUID_LEAF1_EBX(%rip)
	cmpl	$0xb, %edi
	jb	1f			/* no leaf 0xB: boot_cpuid keeps zeros, C assumes 1 CPU */
	movl	$0xb, %eax
	movl	$1, %ecx
	cpuid				/* subleaf 1 = core level: EBX[15:0] = logical CPUs */
	movl	%ebx, boot_cpuid+BOOT_CPUID_LEAFB1_EBX(%rip)
	movl	%ecx, boot_cpuid+BOOT_CPUID_LEAFB1_ECX(%rip)
1:
	/* Drop to CPL 3 with iretq: the frame is SS, RSP, RFLAGS, CS, RIP. RFLAGS = 0x2 gives
	 * IF = 0 (no interrupts, ever) and IOPL = 0. From here on the BSP runs natively. */
	pushq	$(SEL_UDATA | 3)
	pushq	$bsp_user_stack_top
	pushq	$RFLAGS_USER
	pushq	$(SEL_UCODE64 | 3)
	pushq	$user_start
	movl	%esi, %edi		/* start_info -> first C argument (zero-extended) */
	iretq

/* -------------------------------------------------------------------------------------------
 * AP: the real-mode trampoline (trampoline.S, copied to TRAMPOLINE_ADDR) loads our GDT, sets
 * CR0.PE and jumps here with CS = SEL_KCODE32. Paging is off; DS/ES/SS still hold real-mode
 * segments (64 KiB limits), so load flat ones before touching memory above 1 MiB.
 * ------------------------------------------------------------------------------------------- */
	.code32
	.globl	ap_start32
ap_start32:
	movl	$SEL_KDATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	ENTER_LONG_MODE ap_start64

	.code64
ap_start64:
	/* Which CPU is this? CPUID leaf 1 at CPL 0 gives the initial APIC id the VMM set. */
	movl	$1, %eax
	cpuid
	shrl	$24, %ebx		/* EBX = APIC id, 0..255 */
	/* A stack of its own (indexed by APIC id, so no allocation race), used only if an
	 * exception hits this AP: the fatal-exception handler is C. */
	leal	1(%ebx), %eax
	shll	$AP_STACK_SHIFT, %eax
	leaq	ap_stacks(%rax), %rsp
	lidt	idt_desc(%rip)		/* the BSP filled the gates before sending INIT/SIPI */

	/* Report in: set bit <APIC id> in the bitmap, then count. Both locked, so that the BSP,
	 * which reads the count first, sees the bit of every AP it counted. */
	lock btsl %ebx, ap_online_bitmap(%rip)
	lock incl ap_online_count(%rip)

	/* Park for good. IF = 0, so only NMI/INIT/SMI could wake the vCPU; never spin (the CI
	 * has 2 host cores for all vCPUs). With an in-kernel irqchip HLT blocks inside KVM. */
ap_park:
	cli
	hlt
	jmp	ap_park

/* -------------------------------------------------------------------------------------------
 * CPL 3 from here on (entered by the BSP's iretq above). Runs natively.
 * ------------------------------------------------------------------------------------------- */
	.section .text
	.globl	user_start
user_start:
	/* Zero .bss here rather than at CPL 0, where rep stos would be emulated. The stacks and
	 * the TSS are in .noinit (not cleared); boot_cpuid is in .data. RDI = start_info. */
	movq	%rdi, %rbx
	movl	$__bss_start, %edi
	movl	$__bss_end, %ecx
	subl	%edi, %ecx
	shrl	$3, %ecx		/* the linker script aligns both ends to 8 */
	xorl	%eax, %eax
	rep stosq
	movq	%rbx, %rdi
	call	fw_main			/* does not return */
	jmp	platform_park

/* What the CPL-0 path learned through CPUID (layout: BOOT_CPUID_* in defs.h). */
	.section .data
	.balign 4
	.globl	boot_cpuid
boot_cpuid:
	.fill	BOOT_CPUID_SIZE, 1, 0

	.section .note.GNU-stack, "", @progbits
