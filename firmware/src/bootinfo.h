/*
 * bootinfo.h — what the firmware keeps from the PVH start info: the command line and the
 * memory map, copied into the image's own memory before anything overwrites low memory.
 */
#ifndef FW_BOOTINFO_H
#define FW_BOOTINFO_H

#include <stdbool.h>
#include <stdint.h>

/* struct hvm_start_info (xen/include/public/arch-x86/hvm/start_info.h), version 1. */
struct hvm_start_info {
	uint32_t magic; /* HVM_START_MAGIC */
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	/* version >= 1 */
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

/* struct hvm_memmap_table_entry: an E820-style entry. */
struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* 1 ram, 2 reserved, 3 acpi, 4 nvs, ... */
	uint32_t reserved;
};

#define BOOT_CMDLINE_MAX 4096 /* bytes kept, NUL included (SwiftVMM allows 4095) */
#define BOOT_MEMMAP_MAX 128   /* entries kept (SwiftVMM writes at most 128) */

struct boot_info {
	uint32_t version;
	char cmdline[BOOT_CMDLINE_MAX]; /* NUL-terminated */
	uint32_t cmdline_length;
	bool cmdline_truncated;
	struct hvm_memmap_entry memmap[BOOT_MEMMAP_MAX];
	uint32_t memmap_count;   /* entries kept */
	uint32_t memmap_dropped; /* entries beyond BOOT_MEMMAP_MAX */
};

extern struct boot_info boot_info;

/*
 * Copies the command line and memory map from the start info at `start_info_paddr`.
 * Returns NULL on success, or a message saying what is wrong with the start info.
 */
const char *boot_info_copy(uint64_t start_info_paddr);

/*
 * The largest range of RAM (memory-map type 1) the firmware may use for device buffers: above
 * the image's p_memsz (the linker's __fw_end), below 3 GiB (the write-back part of the
 * identity map), clipped so that it overlaps no non-RAM entry; 4 KiB aligned. False (size 0)
 * when there is none (no memory map, or no RAM above the image).
 */
bool boot_info_free_ram(uint64_t *base, uint64_t *size);

void boot_info_print_cmdline(void);
void boot_info_print_memmap(void);

#endif
