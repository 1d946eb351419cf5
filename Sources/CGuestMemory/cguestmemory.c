#define _GNU_SOURCE
#include "CGuestMemory.h"

#include <sys/mman.h>
#include <linux/mman.h>

#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21U << 26) /* log2(2 MiB) << MFD_HUGE_SHIFT, as <linux/memfd.h> */
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

const int CGUESTMEMORY_MAP_HUGE_2MB = MAP_HUGETLB | MAP_HUGE_2MB;

int cguestmemory_memfd(const char *name, int huge)
{
	unsigned flags = MFD_CLOEXEC;
	if (huge)
		flags |= MFD_HUGETLB | MFD_HUGE_2MB;
	return memfd_create(name, flags);
}

int cguestmemory_populate(void *address, size_t length)
{
	return madvise(address, length, MADV_POPULATE_WRITE);
}
