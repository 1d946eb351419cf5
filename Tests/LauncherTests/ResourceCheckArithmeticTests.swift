import Launcher
import Testing
import VMM

/// The fit check with sizes a user can write but no machine has: negative, or past Int and 64
/// bits of bytes. A Swift trap here was a launch that died with SIGILL (status 132).
@Suite struct ResourceCheckArithmeticTests {
    private let cgroup = CgroupLimits(memoryBytes: 512 << 20, memorySource: "cgroup v2 memory.max")

    private func failure(guest: Int, overhead: Int, cgroup: CgroupLimits) -> LaunchError? {
        do {
            _ = try ResourceCheck.check(
                guestMemoryMiB: guest, overheadMiB: overhead, vcpus: 1, cgroup: cgroup, downwardMemoryLimitBytes: nil)
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: [-1, Int.min])
    func aNegativeGuestMemoryIsAnInvalidValue(guest: Int) throws {
        for limits in [cgroup, CgroupLimits()] {
            let error = try #require(failure(guest: guest, overhead: 64, cgroup: limits))
            #expect(error.status == 10 && error.field == "memory_mib" && error.message.contains("'\(guest)'"))
        }
    }

    @Test func aNegativeOverheadIsAnInvalidValue() throws {
        let error = try #require(failure(guest: 256, overhead: -5, cgroup: cgroup))
        #expect(error.status == 10 && error.field == "pod.memory_overhead_mib" && error.message.contains("'-5'"))
    }

    /// MiB whose bytes pass 64 bits (2^44 MiB), or whose sum passes Int: larger than any limit.
    @Test(arguments: [(1 << 44, 64), (Int.max, 64), (Int.max, Int.max), (64, 1 << 50)])
    func hugeSizesDoNotFit(guest: Int, overhead: Int) throws {
        let error = try #require(failure(guest: guest, overhead: overhead, cgroup: cgroup))
        #expect(error.status == 17 && error.message.contains("512 MiB"), "\(error.message)")
        #expect(failure(guest: guest, overhead: overhead, cgroup: CgroupLimits()) == nil, "no limit: nothing to say")
    }

    @Test func theConfigurationsByteSizesSaturate() {
        var machine = VirtualMachineConfiguration()
        machine.memoryMiB = Int.max
        #expect(machine.memoryBytes == .max)
        machine.memoryMiB = -1
        #expect(machine.memoryBytes == 0)
        #expect(ConsoleConfiguration.file(path: "/x", limitMiB: .max).fileLimitBytes == .max)
    }
}
