// CGuestMemory: the memory calls Swift's Glibc module does not export (they need _GNU_SOURCE):
// memfd_create with its huge-page flags, and MADV_POPULATE_WRITE. Nothing else.
#ifndef CGUESTMEMORY_H
#define CGUESTMEMORY_H

#include <stddef.h>

/// A memfd (close-on-exec) named `name`; backed by 2 MiB huge pages when `huge`. fd or -1.
int cguestmemory_memfd(const char *name, int huge);

/// Faults in every page of [address, address + length) for writing (MADV_POPULATE_WRITE, so a
/// page the host cannot give is an error here, not a SIGBUS later). 0, or -1 with errno.
int cguestmemory_populate(void *address, size_t length);

/// MAP_HUGETLB | MAP_HUGE_2MB, for an anonymous huge-page mapping.
extern const int CGUESTMEMORY_MAP_HUGE_2MB;

#endif
