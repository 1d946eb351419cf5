import CSeccomp

/// The kinds of thread SwiftVMM runs, each with its own system-call allow-list. Filters stack:
/// a thread's own filter applies on top of the process filter (`process`), which the
/// executable installs on every thread once the machine runs.
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
    /// Every thread of the process (the main thread, the monitor, Dispatch's workers): what
    /// building, running, rebooting and tearing down machines needs — no exec, no new
    /// processes, no ptrace, mounts, module loading, namespaces, BPF or privilege changes.
    case process

    /// What every thread needs from glibc and the Swift runtime: memory, locks, signals of its
    /// own, clocks, thread exit, closing descriptors it releases, the violation report.
    static let runtime = [
        "futex", "madvise", "mmap", "munmap", "mprotect", "mremap", "brk", "rt_sigprocmask", "rt_sigreturn",
        "sigaltstack", "exit", "exit_group", "write", "read", "close", "gettid", "getpid", "tgkill",
        "clock_gettime", "clock_nanosleep", "nanosleep", "sched_yield", "getrandom", "prctl", "set_robust_list",
        "rseq", "sched_getaffinity",
    ]

    /// The system calls this kind of thread may make besides `runtime` (and `ioctls`).
    var calls: [String] {
        switch self {
        case .vcpu:
            return ["epoll_ctl"]
        case .io:
            return [
                "epoll_wait", "epoll_pwait", "epoll_ctl", "readv", "writev", "preadv", "pwritev", "preadv2",
                "pwritev2", "pread64", "pwrite64", "fdatasync", "fsync", "fallocate", "io_uring_enter",
            ]
        case .console:
            return ["poll", "ppoll"]
        case .process:
            return Self.processCalls
        }
    }

    /// Calls that fail with EACCES instead of stopping the VMM: glibc's malloc opens
    /// /proc/sys/vm/overcommit_memory the first time a thread's heap shrinks, and copes with
    /// not being able to (no thread but the process's own opens files once the machine runs);
    /// Dispatch tries syslog's /dev/log (connect), which a pod does not have anyway.
    var refused: [String] {
        self == .process ? ["connect"] : ["open", "openat", "connect"]
    }

    /// ioctl requests this kind of thread may make (nil: any, for `process`).
    var ioctls: [UInt]? {
        switch self {
        case .vcpu:
            return [
                CSECCOMP_KVM_RUN, CSECCOMP_KVM_GET_REGS, CSECCOMP_KVM_GET_SREGS, CSECCOMP_KVM_GET_MP_STATE,
                CSECCOMP_KVM_GET_LAPIC, CSECCOMP_TUNSETOFFLOAD,
            ].map { UInt($0) }
        case .io, .console:
            return []
        case .process:
            return nil
        }
    }

    /// Serving and using sockets besides the machine's own descriptors: the launcher's DHCP
    /// server (UDP), libnftables' netlink socket, HTTP endpoints.
    static let networkServiceCalls = [
        "sendto", "recvfrom", "sendmsg", "recvmsg", "bind", "listen", "accept", "accept4", "connect", "shutdown",
        "getsockname", "getpeername", "setsockopt", "getsockopt",
    ]

    /// Building and tearing down machines (files, /dev/kvm and its ioctls, memory, eventfds,
    /// epoll, taps and the interface ioctls on an AF_INET socket, OFD locks), waiting, signals,
    /// starting threads, reading /proc, writing logs.
    static let processCalls = [
        "ioctl", "openat", "open", "fstat", "newfstatat", "statx", "stat", "lstat", "lseek", "fcntl", "dup", "dup2",
        "dup3", "pipe2", "readlink", "readlinkat", "getdents64", "access", "faccessat", "faccessat2", "getcwd",
        "unlink", "unlinkat", "ftruncate", "fsync", "fdatasync", "fallocate", "flock", "pread64", "pwrite64",
        "preadv", "pwritev", "preadv2", "pwritev2", "readv", "writev", "eventfd2", "epoll_create1", "epoll_ctl",
        "epoll_wait", "epoll_pwait", "timerfd_create", "timerfd_settime", "poll", "ppoll", "select", "pselect6",
        "socket", "socketpair", "memfd_create", "mlock", "munlock", "membarrier", "rt_sigaction", "rt_sigtimedwait",
        "rt_sigsuspend", "rt_sigqueueinfo", "signalfd4", "rt_tgsigqueueinfo", "kill", "wait4", "waitid", "getuid",
        "geteuid",
        "getgid", "getegid", "getppid", "getpgrp", "getpgid", "getsid", "getrlimit", "prlimit64", "getrusage",
        "sysinfo", "uname", "capget", "capset", "sched_setaffinity", "sched_getparam", "sched_getscheduler",
        "setpriority", "getpriority", "sched_setparam",
        "sched_get_priority_min", "sched_get_priority_max", "set_tid_address", "arch_prctl", "times", "seccomp",
        "clock_getres", "gettimeofday", "time", "setitimer", "getitimer", "alarm", "pause",
        // Submitting to the disks' io_uring rings, which were set up before this filter.
        "io_uring_enter",
    ]

    /// Setting up an io_uring ring (each of the disks' rings is restricted to READV, WRITEV and
    /// FSYNC before it is enabled). The process filter allows these only when the process builds
    /// machines again (reboot in place) with disks that may use io_uring; otherwise they fail with
    /// EACCES: a compromised process cannot make an unrestricted ring, and an unexpected set-up
    /// falls back to the worker threads instead of stopping the VMM.
    static let ringSetupCalls = ["io_uring_setup", "io_uring_register"]
}
