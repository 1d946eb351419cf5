/*
 * arch.h — x86 instructions the C code needs: port I/O, MMIO, pause, rdtsc, cpuid.
 * Port I/O works at CPL 3 because the TSS's I/O permission bitmap opens every port.
 */
#ifndef FW_ARCH_H
#define FW_ARCH_H

#include <stdint.h>

static inline void outb(uint16_t port, uint8_t value)
{
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t value;
	__asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
	return value;
}

static inline void outl(uint16_t port, uint32_t value)
{
	__asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t value;
	__asm__ volatile("inl %1, %0" : "=a"(value) : "Nd"(port));
	return value;
}

static inline void mmio_write8(uintptr_t address, uint8_t value)
{
	*(volatile uint8_t *)address = value;
}

static inline void mmio_write32(uintptr_t address, uint32_t value)
{
	*(volatile uint32_t *)address = value;
}

static inline uint32_t mmio_read32(uintptr_t address)
{
	return *(volatile uint32_t *)address;
}

static inline uint8_t mmio_read8(uintptr_t address)
{
	return *(volatile uint8_t *)address;
}

static inline uint16_t mmio_read16(uintptr_t address)
{
	return *(volatile uint16_t *)address;
}

/*
 * Memory barriers for memory shared with a device (virtio rings), x86-64 (TSO): stores are
 * not reordered with older stores and loads not with older loads, so the write and read
 * barriers only have to stop the compiler; a store followed by a load of another location
 * may be reordered by the CPU, so the full barrier is `mfence`.
 */
static inline void barrier_write(void)
{
	__asm__ volatile("" ::: "memory");
}

static inline void barrier_read(void)
{
	__asm__ volatile("" ::: "memory");
}

static inline void barrier_full(void)
{
	__asm__ volatile("mfence" ::: "memory");
}

static inline void cpu_pause(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* A rough delay: `count` pause instructions (10-150 cycles each depending on the CPU). */
static inline void pause_loop(unsigned count)
{
	while (count-- > 0)
		cpu_pause();
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* CPUID. Note: at CPL 3 on PVM this is not intercepted and returns the HOST's values; the
 * values the VMM configured are only seen at CPL 0 (see entry.S / boot_cpuid). */
static inline void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(subleaf));
}

#endif
