import CSeccomp
import Sandbox
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What the process filter and the thread filters let a thread do once set-up is done (the
/// rules as data; SandboxTests sees the loaded filters from outside the real binary).
@Suite struct ProcessSandboxPolicyTests {
    let process: Int32 = 4242
    let all = ProcessPolicy(networkServices: true, rebuildsMachines: true, opensDiskImages: true)

    func outcome(_ call: String, _ arguments: [UInt64] = [], policy: ProcessPolicy = ProcessPolicy())
        -> SeccompRule.Outcome?
    {
        SeccompRule.outcome(of: call, arguments: arguments, in: policy.rules(processID: process))
    }

    @Test func noRingIsEverSetUpButTheExistingOnesTakeSubmissions() {
        for policy in [ProcessPolicy(), all] {
            #expect(outcome("io_uring_setup", policy: policy) == .fail(errno: EACCES))
            #expect(outcome("io_uring_register", policy: policy) == .fail(errno: EACCES))
            #expect(outcome("io_uring_enter", policy: policy) == .allow)
        }
    }

    @Test func noExecutableMemory() {
        for call in ["mmap", "mprotect"] {
            #expect(outcome(call, [0, 4096, UInt64(PROT_READ | PROT_WRITE)]) == .allow)
            #expect(outcome(call, [0, 4096, UInt64(PROT_READ | PROT_EXEC)]) == .fail(errno: EACCES))
            for profile in ThreadProfile.allCases {
                let rules = profile.rules(processID: process)
                #expect(
                    SeccompRule.outcome(of: call, arguments: [0, 4096, UInt64(PROT_EXEC)], in: rules)
                        == .fail(errno: EACCES), "\(profile)")
            }
        }
    }

    @Test func signalsOnlyWithinTheProcess() {
        #expect(outcome("tgkill", [UInt64(process), 7, 34]) == .allow)
        #expect(outcome("tgkill", [1, 7, 34]) == nil)
        #expect(outcome("kill", [UInt64(process), 15]) == .allow)
        #expect(outcome("kill", [1, 9]) == nil)
        #expect(outcome("rt_sigqueueinfo", [1, 9]) == nil)
        for profile in ThreadProfile.allCases {
            #expect(
                SeccompRule.outcome(of: "tgkill", arguments: [1, 7, 9], in: profile.rules(processID: process)) == nil)
        }
    }

    @Test func prctlOnlyToNameThreadsAndLoadFilters() {
        #expect(outcome("prctl", [UInt64(PR_SET_NAME)]) == .allow)
        #expect(outcome("prctl", [UInt64(PR_SET_NO_NEW_PRIVS), 1]) == .allow)
        for option in [PR_SET_DUMPABLE, PR_SET_PTRACER, PR_CAPBSET_DROP, PR_SET_MM, PR_SET_SECCOMP] {
            #expect(outcome("prctl", [UInt64(option)]) == nil, "prctl option \(option)")
        }
    }

    @Test func filesOpenForReadingOnlyUnlessDiskImagesAreOpenedLater() {
        let readOnly = UInt64(O_RDONLY | O_CLOEXEC)
        let readWrite = UInt64(O_RDWR | O_CLOEXEC) | 0o40000  // O_DIRECT
        #expect(outcome("openat", [0, 0, readOnly]) == .allow)
        #expect(outcome("openat", [0, 0, readWrite]) == .fail(errno: EACCES))
        #expect(outcome("openat", [0, 0, readWrite], policy: all) == .allow)
        let temporary = UInt64(O_RDWR) | 0o20_200_000  // O_TMPFILE
        for flags in [
            UInt64(O_WRONLY), UInt64(O_CREAT | O_RDWR), UInt64(O_TRUNC), UInt64(O_APPEND | O_WRONLY), temporary,
        ] {
            #expect(outcome("openat", [0, 0, flags], policy: all) == .fail(errno: EACCES), "flags \(flags)")
            #expect(outcome("open", [0, flags], policy: all) == .fail(errno: EACCES), "flags \(flags)")
        }
        for call in ["unlink", "unlinkat", "rename", "renameat2"] {
            #expect(outcome(call, policy: all) == .fail(errno: EACCES))
        }
        for call in ["execve", "execveat", "fork", "vfork", "ptrace", "mount", "capset", "setuid", "bpf", "unshare"] {
            #expect(outcome(call, policy: all) == nil, "\(call)")
        }
    }

    @Test func socketsOfTheirFamiliesOnlyWhenTheProcessServesNetworks() {
        #expect(outcome("socket", [UInt64(AF_INET)]) == nil)
        #expect(outcome("socket", [UInt64(AF_UNIX)]) == .fail(errno: EACCES), "Dispatch's syslog attempt")
        #expect(outcome("connect") == .fail(errno: EACCES))
        let serving = ProcessPolicy(networkServices: true)
        #expect(outcome("socket", [UInt64(AF_INET)], policy: serving) == .allow)
        #expect(outcome("socket", [UInt64(AF_INET6)], policy: serving) == .allow)
        #expect(outcome("socket", [UInt64(AF_NETLINK)], policy: serving) == nil, "no netlink after set-up")
        #expect(outcome("socket", [UInt64(AF_PACKET)], policy: serving) == nil)
        #expect(outcome("connect", policy: serving) == .allow)
        #expect(outcome("bind", policy: serving) == nil, "servers bind during set-up")
    }

    @Test func machineBuildingIoctlsAndMemfdOnlyForRebootInPlace() {
        let createVM = UInt64(CSECCOMP_KVM_CREATE_VM)
        #expect(outcome("ioctl", [3, createVM]) == nil)
        #expect(outcome("ioctl", [3, createVM], policy: ProcessPolicy(rebuildsMachines: true)) == .allow)
        #expect(outcome("memfd_create") == nil)
        #expect(outcome("memfd_create", policy: ProcessPolicy(rebuildsMachines: true)) == .allow)
        #expect(outcome("ioctl", [3, UInt64(CSECCOMP_KVM_RUN)]) == .allow, "the vCPU threads are under it too")
        #expect(outcome("ioctl", [3, 0x5401], policy: all) == nil, "no terminal ioctls")
    }

    @Test func vcpuThreadsKeepTheirShortList() {
        let rules = ThreadProfile.vcpu.rules(processID: process)
        #expect(SeccompRule.outcome(of: "ioctl", arguments: [3, UInt64(CSECCOMP_KVM_RUN)], in: rules) == .allow)
        #expect(SeccompRule.outcome(of: "ioctl", arguments: [3, UInt64(CSECCOMP_KVM_CREATE_VM)], in: rules) == nil)
        #expect(SeccompRule.outcome(of: "io_uring_enter", arguments: [], in: rules) == nil)
        #expect(SeccompRule.outcome(of: "socket", arguments: [UInt64(AF_UNIX)], in: rules) == nil)
        #expect(SeccompRule.outcome(of: "openat", arguments: [], in: rules) == .fail(errno: EACCES))
    }
}
