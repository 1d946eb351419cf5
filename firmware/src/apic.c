/*
 * apic.c — local APIC IRR and SVR, I/O APIC redirection entries (see apic.h).
 */
#include "apic.h"

#include "arch.h"
#include "defs.h"

/* Local APIC registers (offsets from LAPIC_BASE). */
#define LAPIC_SVR 0x0f0
#define LAPIC_IRR 0x200 /* eight 32-bit registers, 0x10 apart */
#define SVR_APIC_ENABLE 0x100
#define SVR_SPURIOUS_VECTOR 0xff

/* I/O APIC: an index register and a data window; registers 0x10 + 2n / 0x11 + 2n hold the
 * low / high halves of redirection entry n. */
#define IOAPIC_IOREGSEL 0x00
#define IOAPIC_IOWIN 0x10
#define IOAPIC_REG_VERSION 0x01
#define IOAPIC_REG_REDIRECTION 0x10
#define REDIRECTION_MASKED (1u << 16)
/* Low half: vector (7:0), delivery mode fixed (10:8 = 0), physical destination (bit 11 = 0),
 * active high (bit 13 = 0), edge (bit 15 = 0), unmasked (bit 16 = 0). High half: the
 * destination APIC id in bits 31:24. */
#define REDIRECTION_DEST_SHIFT 24

void lapic_enable(void)
{
	uint32_t svr = mmio_read32(LAPIC_BASE + LAPIC_SVR);
	if (!(svr & SVR_APIC_ENABLE))
		mmio_write32(LAPIC_BASE + LAPIC_SVR, SVR_APIC_ENABLE | SVR_SPURIOUS_VECTOR);
}

bool lapic_irr_pending(unsigned vector)
{
	uint32_t irr = mmio_read32(LAPIC_BASE + LAPIC_IRR + 0x10 * (vector / 32));
	return (irr >> (vector % 32)) & 1;
}

static uint32_t ioapic_read(uint32_t reg)
{
	mmio_write32(IOAPIC_BASE + IOAPIC_IOREGSEL, reg);
	return mmio_read32(IOAPIC_BASE + IOAPIC_IOWIN);
}

static void ioapic_write(uint32_t reg, uint32_t value)
{
	mmio_write32(IOAPIC_BASE + IOAPIC_IOREGSEL, reg);
	mmio_write32(IOAPIC_BASE + IOAPIC_IOWIN, value);
}

unsigned ioapic_pin_count(void)
{
	return ((ioapic_read(IOAPIC_REG_VERSION) >> 16) & 0xff) + 1;
}

void ioapic_route_edge(unsigned pin, unsigned vector, unsigned apic_id)
{
	uint32_t reg = IOAPIC_REG_REDIRECTION + 2 * pin;
	/* Masked while the halves are inconsistent; the destination first, unmask last. */
	ioapic_write(reg, REDIRECTION_MASKED | vector);
	ioapic_write(reg + 1, apic_id << REDIRECTION_DEST_SHIFT);
	ioapic_write(reg, vector & 0xff);
}

void ioapic_mask(unsigned pin)
{
	uint32_t reg = IOAPIC_REG_REDIRECTION + 2 * pin;
	ioapic_write(reg, ioapic_read(reg) | REDIRECTION_MASKED);
}
