// The plain C KVM_RUN loop (see CExitLoop.h). Deliberately no abstractions: one function
// for the set-up SwiftVMM does, one loop shaped like kvmexit.c's.
#define _GNU_SOURCE
#include "CExitLoop.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/// Page tables of SwiftVMM's RawCodeLoader for long64_user.
#define PML4_ADDRESS 0x1000ull
#define PDPT_ADDRESS 0x2000ull
#define FIRST_PAGE_DIRECTORY_ADDRESS 0x3000ull
#define STACK_TOP 0x8000ull
#define CPUID_MAX_ENTRIES 256

/// Everything one run owns; released by teardown() whatever happened.
typedef struct {
  int kvm, vm, vcpu, port_event, mmio_event;
  uint8_t *memory;
  size_t memory_bytes;
  struct kvm_run *run;
  size_t run_bytes;
} vm_state;

/// Writes the error text (plus the errno text when errno is set) and returns CEXITLOOP_SETUP_FAILED.
static int fail(cexitloop_result *result, const char *format, ...) {
  int saved = errno;
  va_list arguments;
  va_start(arguments, format);
  int used = vsnprintf(result->error, sizeof result->error, format, arguments);
  va_end(arguments);
  if (saved != 0 && used >= 0 && (size_t)used < sizeof result->error)
    snprintf(result->error + used, sizeof result->error - (size_t)used, ": %s (errno %d)", strerror(saved), saved);
  return CEXITLOOP_SETUP_FAILED;
}

static uint64_t monotonic_nanoseconds(void) {
  struct timespec time;
  clock_gettime(CLOCK_MONOTONIC, &time);
  return (uint64_t)time.tv_sec * 1000000000ull + (uint64_t)time.tv_nsec;
}

static void teardown(vm_state *state) {
  if (state->run) munmap(state->run, state->run_bytes);
  if (state->memory) munmap(state->memory, state->memory_bytes);
  if (state->port_event >= 0) close(state->port_event);
  if (state->mmio_event >= 0) close(state->mmio_event);
  if (state->vcpu >= 0) close(state->vcpu);
  if (state->vm >= 0) close(state->vm);
  if (state->kvm >= 0) close(state->kvm);
}

static void store64(uint8_t *memory, uint64_t address, uint64_t value) { memcpy(memory + address, &value, sizeof value); }

/// RawCodeLoader.load: PML4 → PDPT → four page directories of 2 MiB user pages (4 GiB).
static void write_page_tables(uint8_t *memory) {
  const uint64_t present = 1, writable = 2, user = 4, large_page = 0x80;
  store64(memory, PML4_ADDRESS, PDPT_ADDRESS | present | writable | user);
  for (uint64_t directory = 0; directory < 4; directory++) {
    uint64_t directory_address = FIRST_PAGE_DIRECTORY_ADDRESS + directory * 0x1000;
    store64(memory, PDPT_ADDRESS + directory * 8, directory_address | present | writable | user);
    for (uint64_t entry = 0; entry < 512; entry++) {
      uint64_t physical = (directory * 512 + entry) << 21;
      store64(memory, directory_address + entry * 8, physical | present | writable | user | large_page);
    }
  }
}

static int register_ioeventfd(vm_state *state, int *event, uint64_t address, uint32_t length, int port,
                              cexitloop_result *result) {
  *event = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (*event < 0) return fail(result, "eventfd");
  struct kvm_ioeventfd request = {
      .addr = address, .len = length, .fd = *event, .flags = port ? KVM_IOEVENTFD_FLAG_PIO : 0};
  if (ioctl(state->vm, KVM_IOEVENTFD, &request) < 0) return fail(result, "KVM_IOEVENTFD %s", port ? "pio" : "mmio");
  return CEXITLOOP_OK;
}

/// The VM, in the order MachineResources.build does it.
static int build(const cexitloop_setup *setup, vm_state *state, cexitloop_result *result) {
  if (setup->code_length == 0 || setup->load_address + setup->code_length > setup->memory_bytes ||
      setup->memory_bytes < STACK_TOP) {
    errno = 0;
    return fail(result, "the code does not fit in guest memory");
  }
  state->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (state->kvm < 0) return fail(result, "open /dev/kvm");
  if (ioctl(state->kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) return fail(result, "KVM_GET_API_VERSION");
  state->vm = ioctl(state->kvm, KVM_CREATE_VM, 0);
  if (state->vm < 0) return fail(result, "KVM_CREATE_VM");
  if (ioctl(state->vm, KVM_SET_TSS_ADDR, (unsigned long)setup->tss_address) < 0) return fail(result, "KVM_SET_TSS_ADDR");
  uint64_t identity_map = setup->identity_map_address;
  if (ioctl(state->vm, KVM_SET_IDENTITY_MAP_ADDR, &identity_map) < 0) return fail(result, "KVM_SET_IDENTITY_MAP_ADDR");

  state->memory_bytes = setup->memory_bytes;
  void *memory = mmap(NULL, state->memory_bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (memory == MAP_FAILED) return fail(result, "mmap guest memory");
  state->memory = memory;
  struct kvm_userspace_memory_region region = {
      .slot = 0, .guest_phys_addr = 0, .memory_size = setup->memory_bytes, .userspace_addr = (uint64_t)(uintptr_t)memory};
  if (ioctl(state->vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) return fail(result, "KVM_SET_USER_MEMORY_REGION");

  if (register_ioeventfd(state, &state->port_event, setup->in_kernel_port, setup->in_kernel_length, 1, result) < 0)
    return CEXITLOOP_SETUP_FAILED;
  if (register_ioeventfd(state, &state->mmio_event, setup->in_kernel_mmio_address, setup->in_kernel_length, 0, result) < 0)
    return CEXITLOOP_SETUP_FAILED;

  memcpy(state->memory + setup->load_address, setup->code, setup->code_length);
  if (setup->mode == CEXITLOOP_MODE_LONG64_USER) write_page_tables(state->memory);

  state->vcpu = ioctl(state->vm, KVM_CREATE_VCPU, 0);
  if (state->vcpu < 0) return fail(result, "KVM_CREATE_VCPU");
  int run_bytes = ioctl(state->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_bytes < (int)sizeof(struct kvm_run)) return fail(result, "KVM_GET_VCPU_MMAP_SIZE");
  state->run_bytes = (size_t)run_bytes;
  void *run = mmap(NULL, state->run_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, state->vcpu, 0);
  if (run == MAP_FAILED) return fail(result, "mmap kvm_run");
  state->run = run;

  struct kvm_cpuid2 *cpuid = calloc(1, sizeof *cpuid + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
  if (cpuid == NULL) return fail(result, "calloc cpuid");
  cpuid->nent = CPUID_MAX_ENTRIES;
  int cpuid_status = ioctl(state->kvm, KVM_GET_SUPPORTED_CPUID, cpuid);
  if (cpuid_status == 0) cpuid_status = ioctl(state->vcpu, KVM_SET_CPUID2, cpuid);
  free(cpuid);
  if (cpuid_status < 0) return fail(result, "KVM_GET_SUPPORTED_CPUID / KVM_SET_CPUID2");

  struct kvm_sregs sregs;
  if (ioctl(state->vcpu, KVM_GET_SREGS, &sregs) < 0) return fail(result, "KVM_GET_SREGS");
  struct kvm_regs regs;
  memset(&regs, 0, sizeof regs);
  regs.rbx = setup->rbx;
  regs.rcx = setup->rcx;
  regs.rdx = setup->rdx;
  regs.rip = setup->load_address;
  regs.rsp = STACK_TOP;
  if (setup->mode == CEXITLOOP_MODE_LONG64_USER) {
    struct kvm_segment code = {.base = 0, .limit = 0xffffffff, .selector = 0x1b, .type = 11, .present = 1,
                               .dpl = 3, .db = 0, .s = 1, .l = 1, .g = 1};
    struct kvm_segment data = {.base = 0, .limit = 0xffffffff, .selector = 0x23, .type = 3, .present = 1,
                               .dpl = 3, .db = 1, .s = 1, .l = 0, .g = 1};
    sregs.cs = code;
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
    sregs.cr3 = PML4_ADDRESS;
    sregs.cr4 = 1u << 5;       // PAE
    sregs.cr0 = 0x80000011;    // PG | ET | PE
    sregs.efer = 0x500;        // LME | LMA
    regs.rflags = 0x3002;      // IOPL 3
  } else {
    struct kvm_segment code = {.base = 0, .limit = 0xffff, .selector = 0, .type = 11, .present = 1, .s = 1};
    struct kvm_segment data = {.base = 0, .limit = 0xffff, .selector = 0, .type = 3, .present = 1, .s = 1};
    sregs.cs = code;
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
    regs.rflags = 2;
  }
  if (ioctl(state->vcpu, KVM_SET_SREGS, &sregs) < 0) return fail(result, "KVM_SET_SREGS");
  if (ioctl(state->vcpu, KVM_SET_REGS, &regs) < 0) return fail(result, "KVM_SET_REGS");
  return CEXITLOOP_OK;
}

/// The exit loop, shaped like kvmexit.c's run_until_hlt: out consumes the byte, in and MMIO
/// reads get read_value, every exit is counted; an out to end_port ends the run.
static int run_loop(const cexitloop_setup *setup, vm_state *state, cexitloop_result *result) {
  struct kvm_run *run = state->run;
  uint64_t sink = 0;
  uint64_t started = monotonic_nanoseconds();
  for (;;) {
    if (ioctl(state->vcpu, KVM_RUN, 0) < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        result->interrupted++;
        continue;
      }
      return fail(result, "KVM_RUN");
    }
    switch (run->exit_reason) {
      case KVM_EXIT_IO: {
        uint8_t *data = (uint8_t *)run + run->io.data_offset;
        if (run->io.direction == KVM_EXIT_IO_OUT) {
          result->port_out++;
          if (run->io.port == setup->end_port) {
            result->loop_nanoseconds = monotonic_nanoseconds() - started;
            result->end_status = data[0];
            result->sink = sink;
            return CEXITLOOP_OK;
          }
          sink += data[0];
        } else {
          result->port_in++;
          data[0] = (uint8_t)setup->read_value;
        }
        break;
      }
      case KVM_EXIT_MMIO:
        if (run->mmio.is_write) {
          result->mmio_write++;
          sink += run->mmio.data[0];
        } else {
          result->mmio_read++;
          run->mmio.data[0] = (uint8_t)setup->read_value;
        }
        break;
      case KVM_EXIT_INTR:
        result->interrupted++;
        break;
      case KVM_EXIT_HLT:
        errno = 0;
        fail(result, "the guest halted before writing port 0x%x", setup->end_port);
        return CEXITLOOP_UNEXPECTED_EXIT;
      case KVM_EXIT_SHUTDOWN:
        errno = 0;
        fail(result, "the guest triple-faulted (KVM_EXIT_SHUTDOWN)");
        return CEXITLOOP_UNEXPECTED_EXIT;
      default:
        errno = 0;
        fail(result, "unexpected KVM exit reason %u", run->exit_reason);
        return CEXITLOOP_UNEXPECTED_EXIT;
    }
  }
}

/// An ioeventfd's counter (0 when nothing was signalled).
static int read_event_count(int event, uint64_t *count, cexitloop_result *result) {
  *count = 0;
  if (read(event, count, sizeof *count) == (ssize_t)sizeof *count) return CEXITLOOP_OK;
  if (errno == EAGAIN) return CEXITLOOP_OK;
  return fail(result, "read ioeventfd");
}

int cexitloop_run(const cexitloop_setup *setup, cexitloop_result *result) {
  memset(result, 0, sizeof *result);
  vm_state state = {.kvm = -1, .vm = -1, .vcpu = -1, .port_event = -1, .mmio_event = -1};
  int status = build(setup, &state, result);
  if (status == CEXITLOOP_OK) status = run_loop(setup, &state, result);
  if (status == CEXITLOOP_OK) status = read_event_count(state.port_event, &result->in_kernel_port_writes, result);
  if (status == CEXITLOOP_OK) status = read_event_count(state.mmio_event, &result->in_kernel_mmio_writes, result);
  teardown(&state);
  return status;
}
