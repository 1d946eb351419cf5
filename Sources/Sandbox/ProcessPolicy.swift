import CSeccomp

#if canImport(Glibc)
    import Glibc
#endif

/// The process filter: what every thread of the process (the main thread, the monitor,
/// Dispatch's and SwiftNIO's workers, the signal thread) may do once the machine is built, on
/// top of which the machine's own threads stack their `ThreadProfile`. What a run needs later
/// decides what stays allowed; everything else is gone — no exec, no new processes, no
/// ptrace, mounts, module loading, namespaces, BPF, io_uring set-up, privilege changes, files
/// opened for writing, executable memory, signals outside the process.
package struct ProcessPolicy: Sendable, Equatable {
    /// The process serves and uses sockets besides the machine's: the DHCP server, HTTP
    /// endpoints (accepting connections), TCP readiness checks (connecting over IPv4 or IPv6).
    package var networkServices = false
    /// The process builds machines again (reboot in place) on resources it keeps open: KVM's
    /// machine-building ioctls and memfd_create (memfd and huge-page backings).
    package var rebuildsMachines = false
    /// The process opens disk images for reading and writing after set-up (Firecracker's
    /// PATCH /drives); otherwise files open for reading only.
    package var opensDiskImages = false

    package init(networkServices: Bool = false, rebuildsMachines: Bool = false, opensDiskImages: Bool = false) {
        self.networkServices = networkServices
        self.rebuildsMachines = rebuildsMachines
        self.opensDiskImages = opensDiskImages
    }

    /// open(2) flags that make a file writable or new; with `opensDiskImages`, O_RDWR is allowed.
    var forbiddenOpenFlags: UInt64 {
        var flags = UInt64(O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_EXCL) | UInt64(CSECCOMP_O_TMPFILE_BIT)
        if !opensDiskImages { flags |= UInt64(O_RDWR) }
        return flags
    }

    /// The rules for the process `processID`.
    package func rules(processID: Int32) -> [SeccompRule] {
        let process = UInt64(UInt32(bitPattern: processID))
        var rules = ThreadProfile.runtime(processID: processID)
        // Every thread is under this filter: what the machine's own threads do is allowed here too.
        rules += SeccompRule.allow(ThreadProfile.allCases.flatMap(\.calls))
        // Files: opened for reading (or disk images for writing), inspected, read and written
        // through descriptors set-up opened; nothing created, renamed or removed (a unix
        // socket's file is left for the next start to remove).
        rules += SeccompRule.allow("openat", argument: 2, withoutBits: forbiddenOpenFlags, otherwiseErrno: EACCES)
        rules += SeccompRule.allow("open", argument: 1, withoutBits: forbiddenOpenFlags, otherwiseErrno: EACCES)
        rules += SeccompRule.fail(["unlink", "unlinkat", "rename", "renameat", "renameat2"], errno: EACCES)
        rules += SeccompRule.allow([
            "fstat", "newfstatat", "statx", "stat", "lstat", "lseek", "fcntl", "dup", "dup3", "pipe2", "readlink",
            "readlinkat", "getdents64", "access", "faccessat", "faccessat2", "getcwd", "fsync", "fdatasync",
            "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2", "readv", "writev",
        ])
        // Waiting, events and timers.
        rules += SeccompRule.allow([
            "eventfd2", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "timerfd_create",
            "timerfd_settime", "poll", "ppoll", "select", "pselect6",
        ])
        // Signals within the process; a container's PID 1 reaps its children.
        rules += SeccompRule.allow([
            "rt_sigaction", "rt_sigtimedwait", "rt_sigsuspend", "wait4", "waitid",
        ])
        rules += SeccompRule.allow("kill", argument: 0, oneOf: [process])
        rules += SeccompRule.allow("rt_tgsigqueueinfo", argument: 0, oneOf: [process])
        // Identity, limits and time; loading a thread's own filter (no_new_privs, seccomp).
        rules += SeccompRule.allow([
            "getuid", "geteuid", "getgid", "getegid", "getppid", "getpgrp", "getpgid", "getsid", "getrlimit",
            "getrusage", "sysinfo", "uname", "sched_getparam", "sched_getscheduler", "sched_get_priority_min",
            "sched_get_priority_max", "getpriority", "set_tid_address", "times", "seccomp", "clock_getres",
            "gettimeofday", "time", "membarrier",
        ])
        rules += SeccompRule.allow("prlimit64", argument: 0, oneOf: [0])
        // Dispatch sets its workers' nice value (PRIO_PROCESS of the calling thread only).
        rules.append(SeccompRule("setpriority", when: [.argument(0, equals: 0), .argument(1, equals: 0)]))
        rules += SeccompRule.allow("prctl", argument: 0, oneOf: [UInt64(CSECCOMP_PR_SET_NO_NEW_PRIVS)])
        // The disks' io_uring rings were set up before this filter and are kept across boots:
        // submitting to them stays allowed (the monitor finishes what is in flight at a stop);
        // a new ring never is — an unrestricted ring would offer what this filter forbids.
        rules += SeccompRule.allow(["io_uring_enter"])
        rules += SeccompRule.fail(["io_uring_setup", "io_uring_register"], errno: EACCES)
        // Sockets: Dispatch tries syslog's /dev/log (a unix socket), which a pod lacks anyway.
        rules.append(SeccompRule("socket", .fail(errno: EACCES), when: [.argument(0, equals: UInt64(AF_UNIX))]))
        if !networkServices { rules += SeccompRule.fail(["connect"], errno: EACCES) }
        if networkServices {
            rules += SeccompRule.allow([
                "sendto", "recvfrom", "sendmsg", "recvmsg", "accept", "accept4", "connect", "shutdown",
                "getsockname", "getpeername", "setsockopt", "getsockopt",
            ])
            rules += SeccompRule.allow("socket", argument: 0, oneOf: [UInt64(AF_INET), UInt64(AF_INET6)])
        }
        var ioctls = [UInt64(CSECCOMP_BLKGETSIZE64)] + ThreadProfile.allCases.flatMap(\.ioctls)
        if rebuildsMachines {
            ioctls += [
                CSECCOMP_KVM_CREATE_VM, CSECCOMP_KVM_CHECK_EXTENSION, CSECCOMP_KVM_GET_VCPU_MMAP_SIZE,
                CSECCOMP_KVM_GET_SUPPORTED_CPUID, CSECCOMP_KVM_SET_TSS_ADDR, CSECCOMP_KVM_SET_IDENTITY_MAP_ADDR,
                CSECCOMP_KVM_CREATE_IRQCHIP, CSECCOMP_KVM_CREATE_PIT2, CSECCOMP_KVM_SET_USER_MEMORY_REGION,
                CSECCOMP_KVM_IOEVENTFD, CSECCOMP_KVM_IRQFD, CSECCOMP_KVM_CREATE_VCPU, CSECCOMP_KVM_SET_CPUID2,
                CSECCOMP_KVM_SET_LAPIC, CSECCOMP_KVM_GET_TSC_KHZ, CSECCOMP_KVM_SET_REGS, CSECCOMP_KVM_SET_SREGS,
            ].map { UInt64($0) }
            rules += SeccompRule.allow(["memfd_create", "ftruncate"])
        }
        rules += SeccompRule.allow("ioctl", argument: 1, oneOf: Array(Set(ioctls)).sorted())
        return rules
    }
}
