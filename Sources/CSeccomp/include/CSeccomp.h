// libseccomp and capabilities for SwiftVMM's sandbox (Sources/Sandbox). Nothing else.
#ifndef CSECCOMP_H
#define CSECCOMP_H

#include <sys/mount.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <sys/prctl.h>
#include <stdint.h>

// The ioctl requests the thread filters allow (Swift cannot import the request macros).
static const unsigned long CSECCOMP_KVM_RUN = KVM_RUN;
static const unsigned long CSECCOMP_KVM_GET_REGS = KVM_GET_REGS;
static const unsigned long CSECCOMP_KVM_GET_SREGS = KVM_GET_SREGS;
static const unsigned long CSECCOMP_KVM_GET_MP_STATE = KVM_GET_MP_STATE;
static const unsigned long CSECCOMP_KVM_GET_LAPIC = KVM_GET_LAPIC;
static const unsigned long CSECCOMP_TUNSETOFFLOAD = TUNSETOFFLOAD;

// What building a machine asks of KVM (the process filter allows these only to a process that
// builds machines again: reboot in place).
static const unsigned long CSECCOMP_KVM_CREATE_VM = KVM_CREATE_VM;
static const unsigned long CSECCOMP_KVM_CHECK_EXTENSION = KVM_CHECK_EXTENSION;
static const unsigned long CSECCOMP_KVM_GET_VCPU_MMAP_SIZE = KVM_GET_VCPU_MMAP_SIZE;
static const unsigned long CSECCOMP_KVM_GET_SUPPORTED_CPUID = KVM_GET_SUPPORTED_CPUID;
static const unsigned long CSECCOMP_KVM_SET_TSS_ADDR = KVM_SET_TSS_ADDR;
static const unsigned long CSECCOMP_KVM_SET_IDENTITY_MAP_ADDR = KVM_SET_IDENTITY_MAP_ADDR;
static const unsigned long CSECCOMP_KVM_CREATE_IRQCHIP = KVM_CREATE_IRQCHIP;
static const unsigned long CSECCOMP_KVM_CREATE_PIT2 = KVM_CREATE_PIT2;
static const unsigned long CSECCOMP_KVM_SET_USER_MEMORY_REGION = KVM_SET_USER_MEMORY_REGION;
static const unsigned long CSECCOMP_KVM_IOEVENTFD = KVM_IOEVENTFD;
static const unsigned long CSECCOMP_KVM_IRQFD = KVM_IRQFD;
static const unsigned long CSECCOMP_KVM_CREATE_VCPU = KVM_CREATE_VCPU;
static const unsigned long CSECCOMP_KVM_SET_CPUID2 = KVM_SET_CPUID2;
static const unsigned long CSECCOMP_KVM_SET_LAPIC = KVM_SET_LAPIC;
static const unsigned long CSECCOMP_KVM_GET_TSC_KHZ = KVM_GET_TSC_KHZ;
static const unsigned long CSECCOMP_KVM_SET_REGS = KVM_SET_REGS;
static const unsigned long CSECCOMP_KVM_SET_SREGS = KVM_SET_SREGS;
// A block device's size (a disk image swapped in: Firecracker's PATCH /drives).
static const unsigned long CSECCOMP_BLKGETSIZE64 = BLKGETSIZE64;

// prctl(2) options threads use once filtered: naming threads, and no_new_privs before a
// thread loads its own filter.
static const unsigned long CSECCOMP_PR_SET_NAME = PR_SET_NAME;
static const unsigned long CSECCOMP_PR_GET_NAME = PR_GET_NAME;
static const unsigned long CSECCOMP_PR_SET_NO_NEW_PRIVS = PR_SET_NO_NEW_PRIVS;
// open(2) flag bits a filtered thread may not use (O_TMPFILE without its O_DIRECTORY part).
static const unsigned long CSECCOMP_O_TMPFILE_BIT = 020000000;

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
/// How a rule compares one argument of the call.
enum cseccomp_operation {
    /// argument == value
    CSECCOMP_EQUAL = 0,
    /// (argument & mask) == value
    CSECCOMP_MASKED_EQUAL = 1,
};

/// One argument comparison of a rule.
typedef struct {
    /// Which argument (0 to 5).
    uint32_t argument;
    /// An enum cseccomp_operation.
    uint32_t operation;
    uint64_t mask;
    uint64_t value;
} cseccomp_condition;

/// Adds a rule for system call `name` (unknown names return -EINVAL): when every one of the
/// `count` conditions holds (always, with none), the call is allowed (`error` 0) or fails with
/// errno `error` instead of stopping the process. Rules of one call must not overlap with
/// different outcomes (libseccomp refuses a rule without conditions beside rules with them).
int cseccomp_add_rule(void *context, const char *name, int error, const cseccomp_condition *conditions,
                      unsigned count);
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
/// effective and inheritable sets and clears the ambient set, on the calling thread. When the
/// thread holds nothing beyond `keep` it only reads its sets (capget). Returns 0 or -errno.
int cseccomp_limit_capabilities(uint64_t keep);
/// The effective capability set (bit n = capability n), or 0 when it cannot be read.
uint64_t cseccomp_effective_capabilities(void);
/// Drops every capability on every thread of the process: the caller's own, then each other
/// thread's through a SIGSYS it sends that thread (the violation handler,
/// cseccomp_install_violation_handler, must be installed), reading /proc/self/task again up to
/// `rounds` times (0.2 ms apart) until twice in a row no thread holds a capability in its inheritable,
/// permitted, effective or ambient set. Kernel workers of the thread group (io_uring's, KVM's)
/// run no user code and are skipped. Returns 0, or -EAGAIN with the name of a thread that
/// still holds capabilities in `holder`, or -errno.
int cseccomp_drop_capabilities_everywhere(int rounds, char *holder, size_t holder_size);
/// What `cseccomp_probe` tries (`swiftvmm sandbox-check --process`: the process filter seen
/// from inside the real binary).
enum cseccomp_probe_kind {
    CSECCOMP_PROBE_EXECUTABLE_MAPPING = 0,
    CSECCOMP_PROBE_OPEN_FOR_WRITING = 1,
    CSECCOMP_PROBE_UNLINK = 2,
    CSECCOMP_PROBE_IO_URING_SETUP = 3,
    CSECCOMP_PROBE_UNIX_SOCKET = 4,
    /// tgkill of PID 1 with signal 0 (harmless where allowed; the filter stops the process).
    CSECCOMP_PROBE_SIGNAL_OUTSIDE = 5,
};
/// Tries `which` (on `path` for the file probes): 0 when the call succeeded, or -errno.
long cseccomp_probe(int which, const char *path);
/// What the violation handler runs for such a SIGSYS (async-signal-safe).
void cseccomp_drop_own_capabilities_from_handler(void);

#endif
