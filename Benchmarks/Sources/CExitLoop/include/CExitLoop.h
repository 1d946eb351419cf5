// CExitLoop: a plain C KVM_RUN loop, the baseline SwiftVMM's vCPU loop is compared with.
//
// It builds the VM exactly as SwiftVMM builds a raw-code guest (one memory slot at GPA 0,
// KVM_SET_TSS_ADDR / KVM_SET_IDENTITY_MAP_ADDR, no in-kernel irqchip, the supported CPUID,
// the same page tables and registers for long mode, flat segments for real mode), registers
// the same ioeventfds, then runs the guest handling exits the way kvmexit.c does.
#ifndef CEXITLOOP_H
#define CEXITLOOP_H

#include <stddef.h>
#include <stdint.h>

/// The CPU mode the guest starts in (SwiftVMM's RawCodeBoot.Mode).
typedef enum {
  CEXITLOOP_MODE_REAL16 = 0,       ///< 16-bit real mode, CS = DS = ES = SS = 0
  CEXITLOOP_MODE_LONG64_USER = 1,  ///< 64-bit long mode at CPL 3, IOPL 3, 4 GiB identity-mapped
} cexitloop_mode;

/// What to build and run.
typedef struct {
  cexitloop_mode mode;
  const uint8_t *code;  ///< guest machine code, copied to load_address
  size_t code_length;
  uint64_t load_address;   ///< also the initial RIP (real mode: IP with CS = 0)
  uint64_t memory_bytes;   ///< guest RAM at GPA 0
  uint64_t tss_address;    ///< KVM_SET_TSS_ADDR
  uint64_t identity_map_address;  ///< KVM_SET_IDENTITY_MAP_ADDR
  uint64_t rbx, rcx, rdx;  ///< initial registers (the rest are 0; RSP = 0x8000)
  uint64_t read_value;     ///< value returned to `in` and MMIO reads
  uint16_t end_port;       ///< an `out` to this port ends the run (the debug-exit port)
  uint16_t in_kernel_port; ///< ioeventfd on this port (no datamatch)
  uint64_t in_kernel_mmio_address;  ///< ioeventfd on this MMIO address (no datamatch)
  uint32_t in_kernel_length;        ///< length of both ioeventfds, in bytes
} cexitloop_setup;

/// What one run did.
typedef struct {
  uint64_t port_out;    ///< KVM_EXIT_IO out exits, including the final write to end_port
  uint64_t port_in;     ///< KVM_EXIT_IO in exits
  uint64_t mmio_write;  ///< KVM_EXIT_MMIO writes
  uint64_t mmio_read;   ///< KVM_EXIT_MMIO reads
  uint64_t interrupted; ///< KVM_RUN returns with EINTR / EAGAIN or KVM_EXIT_INTR
  uint64_t in_kernel_port_writes;  ///< the port ioeventfd's counter after the run
  uint64_t in_kernel_mmio_writes;  ///< the MMIO ioeventfd's counter after the run
  uint64_t loop_nanoseconds;       ///< CLOCK_MONOTONIC from before the first KVM_RUN to the end
  uint32_t end_status;  ///< the byte the guest wrote to end_port
  uint64_t sink;        ///< sum of the bytes the guest wrote (keeps the loop honest)
  char error[256];      ///< empty on success, otherwise what failed (and errno text)
} cexitloop_result;

/// What cexitloop_run returns.
enum {
  CEXITLOOP_OK = 0,                ///< the guest wrote end_port
  CEXITLOOP_SETUP_FAILED = -1,     ///< a set-up step or KVM_RUN itself failed (see result->error)
  CEXITLOOP_UNEXPECTED_EXIT = -2,  ///< the guest ended another way: HLT, shutdown, an unhandled exit
};

/// Builds a fresh VM from `setup`, runs it until the guest writes `end_port`, tears it down.
/// Returns CEXITLOOP_OK, or a failure with `result->error` saying what happened.
int cexitloop_run(const cexitloop_setup *setup, cexitloop_result *result);

#endif
