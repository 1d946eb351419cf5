/*
 * bootinfo.c — copy and print the PVH start info's command line and memory map.
 *
 * The start info, memory map and command line live wherever the loader put them (SwiftVMM:
 * 0x6000, 0x7000, 0x20000; QEMU: its own choice); the AP trampoline is copied to 0x8000 later,
 * so this runs first. Only addresses below 4 GiB are identity mapped: anything else is
 * rejected rather than faulted on.
 */
#include "bootinfo.h"

#include "console.h"
#include "defs.h"
#include "lib.h"

#define MAPPED_LIMIT 0x100000000ull /* the page tables map 0 - 4 GiB */
#define WRITE_BACK_LIMIT 0xc0000000ull /* 3 - 4 GiB is mapped uncached (tables.S) */
#define PAGE_SIZE 4096ull

extern char __fw_end[]; /* fw.ld: the end of the image's p_memsz */

struct boot_info boot_info;

/* Whether [address, address + size) lies in the identity-mapped range. */
static bool mapped(uint64_t address, uint64_t size)
{
	return address < MAPPED_LIMIT && size <= MAPPED_LIMIT - address;
}

static void copy_cmdline(uint64_t paddr)
{
	boot_info.cmdline_length = 0;
	if (paddr == 0)
		return; /* no command line: empty */
	const volatile char *source = (const volatile char *)(uintptr_t)paddr;
	uint32_t n = 0;
	while (n < BOOT_CMDLINE_MAX - 1 && mapped(paddr, n + 1) && source[n] != '\0') {
		boot_info.cmdline[n] = source[n];
		n++;
	}
	boot_info.cmdline[n] = '\0';
	boot_info.cmdline_length = n;
	boot_info.cmdline_truncated = n == BOOT_CMDLINE_MAX - 1 && mapped(paddr, n + 1) && source[n] != '\0';
}

const char *boot_info_copy(uint64_t start_info_paddr)
{
	if (start_info_paddr == 0 || !mapped(start_info_paddr, sizeof(struct hvm_start_info)))
		return "start_info address out of range";
	const struct hvm_start_info *si = (const struct hvm_start_info *)(uintptr_t)start_info_paddr;
	if (si->magic != HVM_START_MAGIC)
		return "start_info magic is not 0x336ec578";
	boot_info.version = si->version;

	if (si->cmdline_paddr != 0 && !mapped(si->cmdline_paddr, 1))
		return "command line address out of range";
	copy_cmdline(si->cmdline_paddr);

	if (si->version >= 1 && si->memmap_entries > 0) {
		uint32_t total = si->memmap_entries;
		uint32_t kept = total < BOOT_MEMMAP_MAX ? total : BOOT_MEMMAP_MAX;
		uint64_t bytes = (uint64_t)kept * sizeof(struct hvm_memmap_entry);
		if (!mapped(si->memmap_paddr, bytes))
			return "memory map address out of range";
		memcpy(boot_info.memmap, (const void *)(uintptr_t)si->memmap_paddr, bytes);
		boot_info.memmap_count = kept;
		boot_info.memmap_dropped = total - kept;
	}
	return NULL;
}

bool boot_info_free_ram(uint64_t *base, uint64_t *size)
{
	uint64_t image_end = ((uint64_t)(uintptr_t)__fw_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	uint64_t best_start = 0, best_end = 0;
	for (uint32_t i = 0; i < boot_info.memmap_count; i++) {
		const struct hvm_memmap_entry *e = &boot_info.memmap[i];
		if (e->type != 1 || e->size == 0 || e->addr >= WRITE_BACK_LIMIT)
			continue;
		uint64_t start = e->addr > image_end ? e->addr : image_end;
		uint64_t end = e->size > WRITE_BACK_LIMIT - e->addr ? WRITE_BACK_LIMIT : e->addr + e->size;
		start = (start + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
		end &= ~(PAGE_SIZE - 1);
		/* Keep clear of every non-RAM entry: cut the range at the first overlap (keeping the
		 * part below it, or above it when it starts inside the entry). */
		for (uint32_t j = 0; j < boot_info.memmap_count && start < end; j++) {
			const struct hvm_memmap_entry *r = &boot_info.memmap[j];
			if (r->type == 1 || r->size == 0)
				continue;
			uint64_t r_end = r->size > ~0ull - r->addr ? ~0ull : r->addr + r->size;
			if (r_end <= start || r->addr >= end)
				continue;
			if (r->addr <= start)
				start = r_end >= end ? end : (r_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
			else
				end = r->addr & ~(PAGE_SIZE - 1);
		}
		if (start < end && end - start > best_end - best_start) {
			best_start = start;
			best_end = end;
		}
	}
	*base = best_start;
	*size = best_end - best_start;
	return best_end > best_start;
}

void boot_info_print_cmdline(void)
{
	fw_printf("fw~ cmdline: %.*s\n", (int)boot_info.cmdline_length, boot_info.cmdline);
	if (boot_info.cmdline_truncated)
		fw_printf("fw~ cmdline truncated to %u bytes\n", (unsigned)boot_info.cmdline_length);
}

static const char *memmap_type_name(uint32_t type)
{
	switch (type) {
	case 1: return "ram";
	case 2: return "reserved";
	case 3: return "acpi";
	case 4: return "nvs";
	default: return NULL;
	}
}

void boot_info_print_memmap(void)
{
	uint64_t ram_bytes = 0;
	if (boot_info.memmap_count == 0)
		fw_printf("fw~ memmap: none (start_info version %u)\n", (unsigned)boot_info.version);
	for (uint32_t i = 0; i < boot_info.memmap_count; i++) {
		const struct hvm_memmap_entry *e = &boot_info.memmap[i];
		const char *name = memmap_type_name(e->type);
		if (e->size == 0)
			fw_printf("fw~ memmap: 0x%016llx empty ", (unsigned long long)e->addr);
		else
			fw_printf("fw~ memmap: 0x%016llx-0x%016llx ", (unsigned long long)e->addr,
				  (unsigned long long)(e->addr + (e->size - 1)));
		if (name != NULL)
			fw_printf("%s\n", name);
		else
			fw_printf("type %u\n", (unsigned)e->type);
		if (e->type == 1)
			ram_bytes += e->size;
	}
	if (boot_info.memmap_dropped > 0)
		fw_printf("fw~ memmap: %u more entries not kept\n", (unsigned)boot_info.memmap_dropped);
	fw_printf("fw~ ram total %llu KiB\n", (unsigned long long)(ram_bytes / 1024));
}
