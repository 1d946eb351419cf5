/*
 * apic.h — the little of the local APIC and the I/O APIC that interrupt-delivery checks need.
 *
 * The firmware never takes an interrupt (IF = 0 at CPL 3, forever): a test routes a device's
 * line through the I/O APIC to a vector and then reads the local APIC's IRR, where a delivered
 * interrupt stays pending. All accesses are xAPIC / I/O APIC MMIO from CPL 3.
 */
#ifndef FW_APIC_H
#define FW_APIC_H

#include <stdbool.h>
#include <stdint.h>

/* Software-enables this CPU's local APIC (SVR bit 8; spurious vector 0xff) if it is not. A
 * software-disabled local APIC does not accept fixed interrupts. */
void lapic_enable(void);

/* Whether `vector` is pending in this CPU's IRR (0xfee00200 + 0x10 * (vector / 32)). */
bool lapic_irr_pending(unsigned vector);

/* Number of I/O APIC redirection entries (pins): version register bits 23:16, plus one. */
unsigned ioapic_pin_count(void);

/* Routes `pin` to `vector` on the CPU with APIC id `apic_id`: fixed delivery, physical
 * destination, edge triggered, active high, unmasked. */
void ioapic_route_edge(unsigned pin, unsigned vector, unsigned apic_id);

/* Masks `pin` (the rest of its entry is kept). */
void ioapic_mask(unsigned pin);

#endif
