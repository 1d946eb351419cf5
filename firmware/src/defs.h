/*
 * defs.h — constants shared by the firmware's assembly and C sources.
 *
 * Only preprocessor definitions here (no C declarations outside the __ASSEMBLER__ guard),
 * so that the .S files can include it. Every number that is part of the firmware's contract
 * with the VMM (ports, addresses, statuses) is defined once, here, and documented in
 * firmware/README.md.
 */
#ifndef FW_DEFS_H
#define FW_DEFS_H

/* Version printed in the banner "fw: SwiftVMM test firmware <N>". */
#define FW_VERSION 1

/* ---- Physical layout ---------------------------------------------------------------- */

/* The image is linked (and loaded) at 1 MiB, identity mapped: virtual == physical. */
#define FW_LOAD_ADDR 0x100000
/* The APs' real-mode trampoline is copied here; a SIPI vector is a page number below 1 MiB. */
#define TRAMPOLINE_ADDR 0x8000
#define TRAMPOLINE_SIPI_VECTOR (TRAMPOLINE_ADDR >> 12)

/* Most vCPUs supported: one per possible xAPIC id. */
#define FW_MAX_CPUS 256
/* Each AP gets a small CPL-0 stack (only used if it takes an exception), indexed by APIC id. */
#define AP_STACK_SHIFT 10 /* 1 KiB */
#define BSP_USER_STACK_SIZE 16384
#define BSP_KERNEL_STACK_SIZE 4096

/* ---- GDT selectors (see tables.S) ----------------------------------------------------- */

#define SEL_KCODE64 0x08 /* CPL-0 64-bit code */
#define SEL_KDATA 0x10   /* CPL-0 flat data (also used in 32-bit protected mode) */
#define SEL_UDATA 0x18   /* CPL-3 flat data; loaded as 0x1b */
#define SEL_UCODE64 0x20 /* CPL-3 64-bit code; loaded as 0x23 */
#define SEL_TSS 0x28     /* 64-bit TSS (two GDT slots) */
#define SEL_KCODE32 0x38 /* CPL-0 32-bit code, for the APs' way from real mode */
#define GDT_ENTRIES 8
#define GDT_LIMIT (GDT_ENTRIES * 8 - 1)

/* ---- Interrupt vectors ------------------------------------------------------------------ */

#define FW_EXCEPTION_VECTORS 32 /* 0..31 have handlers (fatal, except platform_park's int3) */
#define IDT_ENTRIES 256

/* ---- Control registers and MSRs --------------------------------------------------------- */

#define CR0_PE (1 << 0)
#define CR0_ET (1 << 4)
#define CR0_NE (1 << 5)
#define CR0_WP (1 << 16)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
/* RFLAGS for CPL 3: only the always-one bit 1. IF = 0, IOPL = 0 (ports open via the TSS). */
#define RFLAGS_USER 0x2

/* Page-table entry bits. */
#define PTE_P 0x01   /* present */
#define PTE_W 0x02   /* writable */
#define PTE_U 0x04   /* user (CPL 3) accessible */
#define PTE_PWT 0x08 /* write-through */
#define PTE_PCD 0x10 /* cache disable */
#define PTE_PS 0x80  /* 2 MiB page (in a page directory entry) */
#define TABLE_FLAGS (PTE_P | PTE_W | PTE_U) /* PML4 and PDPT entries */

/* The TSS's I/O permission bitmap starts right after the 104-byte 64-bit TSS header. */
#define TSS_RSP0 4
#define TSS_IOMAP_BASE 102
#define TSS_IOMAP_OFFSET 104

/* ---- PVH (Xen) boot ABI ------------------------------------------------------------------- */

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC 0x336ec578

/* ---- Platform devices --------------------------------------------------------------------- */

#define PORT_COM1 0x3f8             /* 16550A UART */
#define PORT_DEBUG_EXIT 0xf4        /* write the exit status (QEMU: status = (v << 1) | 1) */
#define PORT_SLEEP_CONTROL 0x600    /* ACPI-style sleep control register */
#define SLEEP_CONTROL_POWER_OFF 0x34 /* SLP_EN (bit 5) | SLP_TYP 5 (bits 4:2) */
#define PORT_BUTTON_STATUS 0x610    /* 32-bit; bit 0 = power button pressed; write 1 to clear */
#define PORT_BUTTON_ID 0x614        /* 32-bit; reads BUTTON_ID_MAGIC when the device exists */
#define BUTTON_ID_MAGIC 0x42505653  /* "SVPB" little-endian */
#define BUTTON_PRESSED 0x1
#define BOOT_TIMER_ADDR 0xd0000000  /* MMIO byte: the "guest ready" signal */
#define BOOT_TIMER_READY 123
#define LAPIC_BASE 0xfee00000       /* xAPIC MMIO */
#define IOAPIC_BASE 0xfec00000      /* I/O APIC MMIO: IOREGSEL at +0x00, IOWIN at +0x10 */
/* A virtio-mmio device's interrupt line (IOAPIC pin) n is routed to vector IRQ_VECTOR_BASE + n
 * (only while a test that checks interrupt delivery runs; IF stays 0, so it is never taken). */
#define IRQ_VECTOR_BASE 0x40

/* ---- Exit statuses (written to PORT_DEBUG_EXIT) ------------------------------------------- */

#define FW_STATUS_POWER_OFF_FALLBACK 0x00 /* power-off register had no effect */
#define FW_STATUS_DHCP_FAILED 0x36        /* fw.net=dhcp: no lease (no offer, no answer, too many NAKs) */
#define FW_STATUS_NET_FAILED 0x37         /* fw.net / fw.net-bench: a virtio-net check or the benchmark failed */
#define FW_STATUS_BLK_FAILED 0x38         /* fw.test=blk / fw.blk-bench: a virtio-blk check failed */
#define FW_STATUS_RNG_FAILED 0x39         /* fw.test=rng: a check of the virtio-rng self-test failed */
#define FW_STATUS_VIRTIO_FAILED 0x3a      /* virtio driver core: device or transport error */
#define FW_STATUS_BAD_SWITCH 0x3b         /* unknown or malformed fw.* command-line switch */
#define FW_STATUS_BAD_BOOT_INFO 0x3c      /* start_info missing, bad magic or out of range */
#define FW_STATUS_NO_POWER_BUTTON 0x3d    /* fw.wait=button without the power-button device */
#define FW_STATUS_CPUS_MISSING 0x3e       /* not every vCPU came up (or too many vCPUs) */
#define FW_STATUS_FATAL_EXCEPTION 0x3f    /* a CPU exception */

/* ---- Layout of struct boot_cpuid (written at CPL 0 by entry.S, read by C) ------------------- */

#define BOOT_CPUID_MAX_LEAF 0    /* CPUID.0:EAX */
#define BOOT_CPUID_LEAF1_EBX 4   /* CPUID.1:EBX (bits 31:24 = initial APIC id) */
#define BOOT_CPUID_LEAFB1_EBX 8  /* CPUID.(0xB,1):EBX (bits 15:0 = logical CPUs at core level) */
#define BOOT_CPUID_LEAFB1_ECX 12 /* CPUID.(0xB,1):ECX (bits 15:8 = level type, 2 = core) */
#define BOOT_CPUID_SIZE 16

#endif
