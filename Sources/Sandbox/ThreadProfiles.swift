import CSeccomp

#if canImport(Glibc)
    import Glibc
#endif

/// The kinds of thread SwiftVMM runs, each with its own system-call allow-list. Filters stack:
/// a thread's own filter applies on top of the process filter (`ProcessPolicy`), which the
/// executable installs on every thread once the machine is built.
package enum ThreadProfile: String, Sendable, CaseIterable {
    /// vCPU threads: KVM_RUN and the register reads of a failure report, device register
    /// accesses (eventfd signals, epoll changes when a virtio device starts, TUNSETOFFLOAD).
    case vcpu
    /// The I/O thread and the block worker threads: epoll, eventfds, disk I/O (preadv/pwritev,
    /// fdatasync, fallocate, io_uring_enter on the disks' rings), tap readv/writev, getrandom for
    /// the entropy device, console input (read).
    case io
    /// The console thread: poll and write to the console sink.
    case console

    /// What every thread needs from glibc and the Swift runtime: memory (never executable:
    /// mmap and mprotect with PROT_EXEC fail with EACCES), locks, signals to the process's own
    /// threads, clocks, thread exit, closing descriptors it releases, naming itself, the
    /// violation report. `processID` is the process's (tgkill is allowed only within it).
    static func runtime(processID: Int32) -> [SeccompRule] {
        let process = UInt64(UInt32(bitPattern: processID))
        return SeccompRule.allow([
            "futex", "madvise", "munmap", "mremap", "brk", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "exit",
            "exit_group", "write", "read", "close", "gettid", "getpid", "clock_gettime", "clock_nanosleep",
            "nanosleep", "sched_yield", "getrandom", "set_robust_list", "rseq", "sched_getaffinity", "capget",
        ])
            + SeccompRule.allow(
                "mmap", argument: 2, withoutBits: UInt64(PROT_EXEC), otherwiseErrno: EACCES)
            + SeccompRule.allow(
                "mprotect", argument: 2, withoutBits: UInt64(PROT_EXEC), otherwiseErrno: EACCES)
            + SeccompRule.allow("tgkill", argument: 0, oneOf: [process])
            + SeccompRule.allow(
                "prctl", argument: 0, oneOf: [CSECCOMP_PR_SET_NAME, CSECCOMP_PR_GET_NAME].map(UInt64.init))
    }

    /// The calls this kind of thread makes besides `runtime` and ioctl (the process filter,
    /// which every thread is under too, allows them as well).
    var calls: [String] {
        switch self {
        case .vcpu: return ["epoll_ctl"]
        case .io:
            return [
                "epoll_wait", "epoll_pwait", "epoll_ctl", "readv", "writev", "preadv", "pwritev", "preadv2",
                "pwritev2", "pread64", "pwrite64", "fdatasync", "fsync", "fallocate", "io_uring_enter",
            ]
        case .console: return ["poll", "ppoll"]
        }
    }

    /// The ioctl requests this kind of thread makes.
    var ioctls: [UInt64] {
        switch self {
        case .vcpu:
            return [
                CSECCOMP_KVM_RUN, CSECCOMP_KVM_GET_REGS, CSECCOMP_KVM_GET_SREGS, CSECCOMP_KVM_GET_MP_STATE,
                CSECCOMP_KVM_GET_LAPIC, CSECCOMP_TUNSETOFFLOAD,
            ].map { UInt64($0) }
        case .io, .console: return []
        }
    }

    /// The rules of this kind of thread: `runtime`, its own calls and ioctl requests; opening
    /// files and connecting fail with EACCES (glibc's malloc opens
    /// /proc/sys/vm/overcommit_memory the first time a thread's heap shrinks, and copes).
    package func rules(processID: Int32) -> [SeccompRule] {
        Self.runtime(processID: processID) + SeccompRule.allow(calls)
            + SeccompRule.allow("ioctl", argument: 1, oneOf: ioctls)
            + SeccompRule.fail(["open", "openat", "connect"], errno: EACCES)
    }
}
