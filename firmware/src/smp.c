/*
 * smp.c — start the APs from CPL 3 through the xAPIC's ICR, and collect their reports.
 *
 * Each AP runs the real-mode trampoline (trampoline.S, copied to TRAMPOLINE_ADDR), goes to
 * long mode (entry.S: ap_start32/ap_start64), sets its APIC id's bit in ap_online_bitmap and
 * increments ap_online_count (both locked), then parks at CPL 0 in `cli; hlt`. APs never
 * print: only the BSP does, so the console output is deterministic.
 */
#include "smp.h"

#include <stddef.h>

#include "arch.h"
#include "console.h"
#include "defs.h"
#include "lib.h"
#include "platform.h"

/* What entry.S stored at CPL 0 (layout: BOOT_CPUID_* in defs.h). */
struct boot_cpuid {
	uint32_t max_leaf;
	uint32_t leaf1_ebx;
	uint32_t leafb1_ebx;
	uint32_t leafb1_ecx;
};
_Static_assert(offsetof(struct boot_cpuid, max_leaf) == BOOT_CPUID_MAX_LEAF, "boot_cpuid layout");
_Static_assert(offsetof(struct boot_cpuid, leaf1_ebx) == BOOT_CPUID_LEAF1_EBX, "boot_cpuid layout");
_Static_assert(offsetof(struct boot_cpuid, leafb1_ebx) == BOOT_CPUID_LEAFB1_EBX, "boot_cpuid layout");
_Static_assert(offsetof(struct boot_cpuid, leafb1_ecx) == BOOT_CPUID_LEAFB1_ECX, "boot_cpuid layout");
_Static_assert(sizeof(struct boot_cpuid) == BOOT_CPUID_SIZE, "boot_cpuid layout");
extern const struct boot_cpuid boot_cpuid; /* entry.S */

extern const uint8_t trampoline_start[], trampoline_end[]; /* trampoline.S */

/* Written by the APs (entry.S: ap_start64) with locked instructions. In .bss: zeroed before
 * any AP starts. */
uint32_t ap_online_count;
uint32_t ap_online_bitmap[FW_MAX_CPUS / 32];

/* xAPIC registers (offsets from LAPIC_BASE). */
#define LAPIC_SVR 0x0f0
#define LAPIC_ICR_LOW 0x300
#define SVR_APIC_ENABLE 0x100
#define SVR_SPURIOUS_VECTOR 0xff
#define ICR_DELIVERY_PENDING (1u << 12)
#define ICR_INIT (5u << 8)
#define ICR_STARTUP (6u << 8)
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_ALL_EXCLUDING_SELF (3u << 18)
#define ICR_POLL_LIMIT 1000

/* Pauses between INIT and the SIPIs: a few µs to a few tens of µs. KVM handles INIT and SIPI
 * in order without delays; the pauses are for VMMs that take the IPIs asynchronously. */
#define IPI_GAP_PAUSES 1000

/* How long the BSP waits for the APs: a TSC deadline (2.7 s at 3 GHz, 8 s at 1 GHz) and a
 * poll count as a backstop in case the TSC does not advance. */
#define AP_WAIT_TSC_CYCLES 8000000000ull
#define AP_WAIT_MAX_POLLS 300000000u

unsigned smp_cpu_count(void)
{
	if (boot_cpuid.max_leaf < 0xb)
		return 1;
	unsigned count = boot_cpuid.leafb1_ebx & 0xffff;
	return count == 0 ? 1 : count;
}

unsigned smp_bsp_apic_id(void)
{
	return boot_cpuid.leaf1_ebx >> 24;
}

static void lapic_write(uint32_t reg, uint32_t value)
{
	mmio_write32(LAPIC_BASE + reg, value);
}

static uint32_t lapic_read(uint32_t reg)
{
	return mmio_read32(LAPIC_BASE + reg);
}

/* Sends an IPI (the destination shorthand is in `icr`) and waits, bounded, until the local
 * APIC reports it delivered. */
static void send_ipi(uint32_t icr)
{
	lapic_write(LAPIC_ICR_LOW, icr);
	for (unsigned i = 0; i < ICR_POLL_LIMIT && (lapic_read(LAPIC_ICR_LOW) & ICR_DELIVERY_PENDING); i++)
		cpu_pause();
}

static bool ap_online(unsigned apic_id)
{
	uint32_t word = __atomic_load_n(&ap_online_bitmap[apic_id / 32], __ATOMIC_ACQUIRE);
	return (word >> (apic_id % 32)) & 1;
}

/* Waits until `expected` APs have reported in, or the time is up. */
static void wait_for_aps(unsigned expected)
{
	uint64_t start = rdtsc();
	for (uint32_t polls = 0; polls < AP_WAIT_MAX_POLLS; polls++) {
		if (__atomic_load_n(&ap_online_count, __ATOMIC_ACQUIRE) >= expected)
			return;
		if (rdtsc() - start > AP_WAIT_TSC_CYCLES)
			return;
		cpu_pause();
	}
}

void smp_boot(unsigned cpus)
{
	if (cpus > FW_MAX_CPUS) {
		fw_printf("fw: FAIL %u cpus, at most %u supported\n", cpus, FW_MAX_CPUS);
		platform_debug_exit(FW_STATUS_CPUS_MISSING);
	}
	unsigned bsp = smp_bsp_apic_id();
	if (cpus > 1) {
		memcpy((void *)TRAMPOLINE_ADDR, trampoline_start, (size_t)(trampoline_end - trampoline_start));
		__asm__ volatile("" ::: "memory"); /* the trampoline is in memory before the IPIs */
		lapic_write(LAPIC_SVR, SVR_APIC_ENABLE | SVR_SPURIOUS_VECTOR);
		/* INIT, then SIPI twice, as the MP specification says; all excluding self. */
		send_ipi(ICR_ALL_EXCLUDING_SELF | ICR_LEVEL_ASSERT | ICR_INIT);
		pause_loop(IPI_GAP_PAUSES);
		send_ipi(ICR_ALL_EXCLUDING_SELF | ICR_LEVEL_ASSERT | ICR_STARTUP | TRAMPOLINE_SIPI_VECTOR);
		pause_loop(IPI_GAP_PAUSES);
		send_ipi(ICR_ALL_EXCLUDING_SELF | ICR_LEVEL_ASSERT | ICR_STARTUP | TRAMPOLINE_SIPI_VECTOR);
		wait_for_aps(cpus - 1);
	}

	/* Report in APIC-id order; an AP claiming the BSP's APIC id does not count. */
	unsigned up = 1;
	for (unsigned id = 0; id < FW_MAX_CPUS; id++) {
		if (id == bsp || !ap_online(id))
			continue;
		fw_printf("fw: cpu %u up (apic id %u)\n", up, id);
		up++;
	}
	if (up < cpus) {
		fw_printf("fw: FAIL only %u of %u cpus up\n", up, cpus);
		platform_debug_exit(FW_STATUS_CPUS_MISSING);
	}
	if (up > cpus) {
		fw_printf("fw: FAIL %u cpus up, expected %u\n", up, cpus);
		platform_debug_exit(FW_STATUS_CPUS_MISSING);
	}
	fw_printf("fw: all %u cpus up\n", cpus);
}
