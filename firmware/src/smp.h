/*
 * smp.h — count the vCPUs and start the APs.
 */
#ifndef FW_SMP_H
#define FW_SMP_H

#include <stdint.h>

/* The number of vCPUs: CPUID.(0xB, 1):EBX[15:0] as read at CPL 0 (1 without leaf 0xB). */
unsigned smp_cpu_count(void);

/* The BSP's initial APIC id (CPUID.1:EBX[31:24] at CPL 0). */
unsigned smp_bsp_apic_id(void);

/*
 * Starts every other vCPU (INIT/SIPI/SIPI to all excluding self), waits for them to report in
 * (bounded), prints "fw: cpu <i> up (apic id <id>)" per AP in APIC-id order and
 * "fw: all <N> cpus up". If some are missing, prints "fw: FAIL only <k> of <N> cpus up" and
 * leaves with FW_STATUS_CPUS_MISSING (does not return).
 */
void smp_boot(unsigned cpus);

#endif
