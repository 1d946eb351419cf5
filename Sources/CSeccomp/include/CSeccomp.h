// libseccomp and capabilities for SwiftVMM's sandbox (Sources/Sandbox). Nothing else.
#ifndef CSECCOMP_H
#define CSECCOMP_H

#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <stdint.h>

// The ioctl requests the thread filters allow (Swift cannot import the request macros).
static const unsigned long CSECCOMP_KVM_RUN = KVM_RUN;
static const unsigned long CSECCOMP_KVM_GET_REGS = KVM_GET_REGS;
static const unsigned long CSECCOMP_KVM_GET_SREGS = KVM_GET_SREGS;
static const unsigned long CSECCOMP_KVM_GET_MP_STATE = KVM_GET_MP_STATE;
static const unsigned long CSECCOMP_KVM_GET_LAPIC = KVM_GET_LAPIC;
static const unsigned long CSECCOMP_TUNSETOFFLOAD = TUNSETOFFLOAD;

/// What a filter does with a system call it does not allow.
enum cseccomp_default_action {
    /// SIGSYS to the thread; the handler (cseccomp_install_violation_handler) reports the call
    /// on stderr and ends the process with its status.
    CSECCOMP_TRAP = 0,
    /// Allowed, and logged by the kernel (audit / dmesg): for finding what a filter lacks.
    CSECCOMP_LOG = 1,
};

/// Installs the SIGSYS handler: one line on stderr naming the system call number and the
/// thread, then _exit(exit_status). Returns 0 or -errno.
int cseccomp_install_violation_handler(int exit_status);

/// A new filter context (NULL on failure).
void *cseccomp_new(int default_action);
/// Allows system call `name` (unknown names return -EINVAL).
int cseccomp_allow(void *context, const char *name);
/// Makes system call `name` fail with `error` instead of stopping the process (for calls
/// glibc makes on its own and copes with failing, such as malloc reading
/// /proc/sys/vm/overcommit_memory).
int cseccomp_fail(void *context, const char *name, int error);
/// Allows ioctl(fd, request, ...) for this request only (the ioctl itself must not also be
/// allowed unconditionally).
int cseccomp_allow_ioctl(void *context, unsigned long request);
/// Allows clone(2) only for new threads (CLONE_THREAD set): never a new process.
int cseccomp_allow_clone_threads(void *context);
/// Loads the filter on the calling thread (or, with all_threads, on every thread of the
/// process: SECCOMP_FILTER_FLAG_TSYNC), sets no_new_privs and frees the context. Returns 0 or -errno.
int cseccomp_load(void *context, int all_threads);
/// Frees a context that was not loaded.
void cseccomp_release(void *context);
/// The system call number of `name` on this architecture (negative when unknown).
int cseccomp_resolve(const char *name);

/// Keeps only the capabilities in `keep` (bit n = capability n) in the bounding, permitted,
/// effective and inheritable sets and clears the ambient set. Returns 0 or -errno.
int cseccomp_limit_capabilities(uint64_t keep);
/// The effective capability set (bit n = capability n), or 0 when it cannot be read.
uint64_t cseccomp_effective_capabilities(void);

#endif
