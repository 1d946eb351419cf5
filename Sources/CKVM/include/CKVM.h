// CKVM: the C side of SwiftVMM's KVM access.
//
// Swift cannot import the ioctl request macros of <linux/kvm.h> (they expand to expressions
// built from _IOW/_IOR), cannot call the variadic ioctl(2), and sees the anonymous unions of
// `struct kvm_run` awkwardly. This header exports exactly those three things: request numbers
// and flags as constants, non-variadic ioctl shims, and `kvm_run` accessors. Nothing else.
#ifndef CKVM_H
#define CKVM_H

#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>

// MARK: - ioctl request numbers

static const unsigned long CKVM_GET_API_VERSION = KVM_GET_API_VERSION;
static const unsigned long CKVM_CREATE_VM = KVM_CREATE_VM;
static const unsigned long CKVM_CHECK_EXTENSION = KVM_CHECK_EXTENSION;
static const unsigned long CKVM_GET_VCPU_MMAP_SIZE = KVM_GET_VCPU_MMAP_SIZE;
static const unsigned long CKVM_GET_SUPPORTED_CPUID = KVM_GET_SUPPORTED_CPUID;
static const unsigned long CKVM_SET_TSS_ADDR = KVM_SET_TSS_ADDR;
static const unsigned long CKVM_SET_IDENTITY_MAP_ADDR = KVM_SET_IDENTITY_MAP_ADDR;
static const unsigned long CKVM_CREATE_IRQCHIP = KVM_CREATE_IRQCHIP;
static const unsigned long CKVM_CREATE_PIT2 = KVM_CREATE_PIT2;
static const unsigned long CKVM_SET_USER_MEMORY_REGION = KVM_SET_USER_MEMORY_REGION;
static const unsigned long CKVM_IOEVENTFD = KVM_IOEVENTFD;
static const unsigned long CKVM_IRQFD = KVM_IRQFD;
static const unsigned long CKVM_CREATE_VCPU = KVM_CREATE_VCPU;
static const unsigned long CKVM_RUN = KVM_RUN;
static const unsigned long CKVM_GET_REGS = KVM_GET_REGS;
static const unsigned long CKVM_SET_REGS = KVM_SET_REGS;
static const unsigned long CKVM_GET_SREGS = KVM_GET_SREGS;
static const unsigned long CKVM_SET_SREGS = KVM_SET_SREGS;
static const unsigned long CKVM_SET_CPUID2 = KVM_SET_CPUID2;
static const unsigned long CKVM_GET_LAPIC = KVM_GET_LAPIC;
static const unsigned long CKVM_SET_LAPIC = KVM_SET_LAPIC;
static const unsigned long CKVM_GET_TSC_KHZ = KVM_GET_TSC_KHZ;
static const unsigned long CKVM_GET_MP_STATE = KVM_GET_MP_STATE;

// MARK: - capabilities

static const int CKVM_CAP_IRQCHIP = KVM_CAP_IRQCHIP;
static const int CKVM_CAP_HLT = KVM_CAP_HLT;
static const int CKVM_CAP_USER_MEMORY = KVM_CAP_USER_MEMORY;
static const int CKVM_CAP_SET_TSS_ADDR = KVM_CAP_SET_TSS_ADDR;
static const int CKVM_CAP_SET_IDENTITY_MAP_ADDR = KVM_CAP_SET_IDENTITY_MAP_ADDR;
static const int CKVM_CAP_EXT_CPUID = KVM_CAP_EXT_CPUID;
static const int CKVM_CAP_NR_VCPUS = KVM_CAP_NR_VCPUS;
static const int CKVM_CAP_MAX_VCPUS = KVM_CAP_MAX_VCPUS;
static const int CKVM_CAP_NR_MEMSLOTS = KVM_CAP_NR_MEMSLOTS;
static const int CKVM_CAP_IOEVENTFD = KVM_CAP_IOEVENTFD;
static const int CKVM_CAP_IRQFD = KVM_CAP_IRQFD;
static const int CKVM_CAP_PIT2 = KVM_CAP_PIT2;
static const int CKVM_CAP_IMMEDIATE_EXIT = KVM_CAP_IMMEDIATE_EXIT;
static const int CKVM_CAP_TSC_DEADLINE_TIMER = KVM_CAP_TSC_DEADLINE_TIMER;
static const int CKVM_CAP_GET_TSC_KHZ = KVM_CAP_GET_TSC_KHZ;

// MARK: - flags and exit reasons

static const uint32_t CKVM_MEM_READONLY = KVM_MEM_READONLY;
static const uint32_t CKVM_IOEVENTFD_FLAG_DATAMATCH = KVM_IOEVENTFD_FLAG_DATAMATCH;
static const uint32_t CKVM_IOEVENTFD_FLAG_PIO = KVM_IOEVENTFD_FLAG_PIO;
static const uint32_t CKVM_IOEVENTFD_FLAG_DEASSIGN = KVM_IOEVENTFD_FLAG_DEASSIGN;
static const uint32_t CKVM_PIT_SPEAKER_DUMMY = KVM_PIT_SPEAKER_DUMMY;
static const uint32_t CKVM_MAX_CPUID_ENTRIES = 256;
static const uint32_t CKVM_CPUID_FLAG_SIGNIFCANT_INDEX = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;

static const uint32_t CKVM_EXIT_UNKNOWN = KVM_EXIT_UNKNOWN;
static const uint32_t CKVM_EXIT_EXCEPTION = KVM_EXIT_EXCEPTION;
static const uint32_t CKVM_EXIT_IO = KVM_EXIT_IO;
static const uint32_t CKVM_EXIT_HLT = KVM_EXIT_HLT;
static const uint32_t CKVM_EXIT_MMIO = KVM_EXIT_MMIO;
static const uint32_t CKVM_EXIT_SHUTDOWN = KVM_EXIT_SHUTDOWN;
static const uint32_t CKVM_EXIT_FAIL_ENTRY = KVM_EXIT_FAIL_ENTRY;
static const uint32_t CKVM_EXIT_INTR = KVM_EXIT_INTR;
static const uint32_t CKVM_EXIT_INTERNAL_ERROR = KVM_EXIT_INTERNAL_ERROR;
static const uint32_t CKVM_EXIT_SYSTEM_EVENT = KVM_EXIT_SYSTEM_EVENT;
static const uint8_t CKVM_EXIT_IO_IN = KVM_EXIT_IO_IN;
static const uint8_t CKVM_EXIT_IO_OUT = KVM_EXIT_IO_OUT;
static const uint32_t CKVM_SYSTEM_EVENT_SHUTDOWN = KVM_SYSTEM_EVENT_SHUTDOWN;
static const uint32_t CKVM_SYSTEM_EVENT_RESET = KVM_SYSTEM_EVENT_RESET;
static const uint32_t CKVM_SYSTEM_EVENT_CRASH = KVM_SYSTEM_EVENT_CRASH;

// MARK: - ioctl shims (ioctl(2) is variadic; Swift cannot call it)

/// ioctl with an integer argument (or none). Returns the ioctl result; -1 sets errno.
static inline int ckvm_ioctl_value(int fd, unsigned long request, unsigned long value) {
  return ioctl(fd, request, value);
}

/// ioctl with a pointer argument. Returns the ioctl result; -1 sets errno.
static inline int ckvm_ioctl_pointer(int fd, unsigned long request, void *argument) {
  return ioctl(fd, request, argument);
}

/// KVM_RUN: returns 0 on success, otherwise the errno (EINTR when kicked). Reading errno here
/// keeps the hot path free of a second call into the C library.
static inline int ckvm_run(int vcpu_fd) {
  return ioctl(vcpu_fd, KVM_RUN, 0) == 0 ? 0 : errno;
}

// MARK: - struct kvm_run accessors (its exit data is an anonymous union)

static inline uint32_t ckvm_run_exit_reason(const struct kvm_run *run) { return run->exit_reason; }
static inline void ckvm_run_set_immediate_exit(struct kvm_run *run, uint8_t value) {
  __atomic_store_n(&run->immediate_exit, value, __ATOMIC_SEQ_CST);
}
static inline uint8_t ckvm_run_immediate_exit(const struct kvm_run *run) {
  return __atomic_load_n(&run->immediate_exit, __ATOMIC_SEQ_CST);
}

static inline uint8_t ckvm_run_io_direction(const struct kvm_run *run) { return run->io.direction; }
static inline uint8_t ckvm_run_io_size(const struct kvm_run *run) { return run->io.size; }
static inline uint16_t ckvm_run_io_port(const struct kvm_run *run) { return run->io.port; }
static inline uint32_t ckvm_run_io_count(const struct kvm_run *run) { return run->io.count; }
static inline uint64_t ckvm_run_io_data_offset(const struct kvm_run *run) { return run->io.data_offset; }

static inline uint64_t ckvm_run_mmio_phys_addr(const struct kvm_run *run) { return run->mmio.phys_addr; }
static inline uint32_t ckvm_run_mmio_len(const struct kvm_run *run) { return run->mmio.len; }
static inline uint8_t ckvm_run_mmio_is_write(const struct kvm_run *run) { return run->mmio.is_write; }
/// Offset of kvm_run.mmio.data from the start of the structure.
static inline uint64_t ckvm_run_mmio_data_offset(void) { return __builtin_offsetof(struct kvm_run, mmio.data); }

static inline uint32_t ckvm_run_system_event_type(const struct kvm_run *run) { return run->system_event.type; }
static inline uint32_t ckvm_run_system_event_ndata(const struct kvm_run *run) { return run->system_event.ndata; }
static inline uint64_t ckvm_run_system_event_data(const struct kvm_run *run, uint32_t i) {
  return i < 16 ? run->system_event.data[i] : 0;
}

static inline uint32_t ckvm_run_internal_suberror(const struct kvm_run *run) { return run->internal.suberror; }
static inline uint32_t ckvm_run_internal_ndata(const struct kvm_run *run) { return run->internal.ndata; }
static inline uint64_t ckvm_run_internal_data(const struct kvm_run *run, uint32_t i) {
  return i < 16 ? run->internal.data[i] : 0;
}

static inline uint64_t ckvm_run_fail_entry_reason(const struct kvm_run *run) {
  return run->fail_entry.hardware_entry_failure_reason;
}
static inline uint32_t ckvm_run_fail_entry_cpu(const struct kvm_run *run) { return run->fail_entry.cpu; }

static inline uint32_t ckvm_run_exception_number(const struct kvm_run *run) { return run->ex.exception; }
static inline uint32_t ckvm_run_exception_error_code(const struct kvm_run *run) { return run->ex.error_code; }

// Setters used only by tests that build synthetic kvm_run contents.
static inline void ckvm_run_set_exit_reason(struct kvm_run *run, uint32_t reason) { run->exit_reason = reason; }
static inline void ckvm_run_set_io(struct kvm_run *run, uint8_t direction, uint8_t size, uint16_t port,
                                   uint32_t count, uint64_t data_offset) {
  run->io.direction = direction;
  run->io.size = size;
  run->io.port = port;
  run->io.count = count;
  run->io.data_offset = data_offset;
}
static inline void ckvm_run_set_mmio(struct kvm_run *run, uint64_t address, uint32_t len, uint8_t is_write) {
  run->mmio.phys_addr = address;
  run->mmio.len = len;
  run->mmio.is_write = is_write;
}
static inline void ckvm_run_set_system_event(struct kvm_run *run, uint32_t type, uint32_t ndata, uint64_t data0) {
  run->system_event.type = type;
  run->system_event.ndata = ndata;
  run->system_event.data[0] = data0;
}
static inline void ckvm_run_set_internal(struct kvm_run *run, uint32_t suberror, uint32_t ndata, uint64_t data0) {
  run->internal.suberror = suberror;
  run->internal.ndata = ndata;
  run->internal.data[0] = data0;
}
static inline void ckvm_run_set_fail_entry(struct kvm_run *run, uint64_t reason, uint32_t cpu) {
  run->fail_entry.hardware_entry_failure_reason = reason;
  run->fail_entry.cpu = cpu;
}

#endif
