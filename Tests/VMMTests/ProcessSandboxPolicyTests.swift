import Sandbox
import Testing
import VMM

/// The process filter lets the process set up io_uring rings only when it builds machines
/// again with disks that may use io_uring; otherwise io_uring_setup fails with EACCES.
@Suite struct ProcessSandboxPolicyTests {
    func configuration(aio: [DiskConfiguration.AsyncIO]) -> VirtualMachineConfiguration {
        var configuration = VirtualMachineConfiguration()
        configuration.disks = aio.map { DiskConfiguration(path: "/dev/null", aio: $0) }
        return configuration
    }

    @Test(arguments: [
        ([DiskConfiguration.AsyncIO.auto], true, true),
        ([.ioUring], true, true),
        ([.threads, .sync], true, false),
        ([], true, false),
        ([.auto], false, false),
        ([.ioUring], false, false),
    ])
    func ringSetupIsAllowedOnlyForRebuiltIOUringDisks(aio: [DiskConfiguration.AsyncIO], rebuilds: Bool, allowed: Bool) {
        let ringSetup = ProcessSandbox.setsUpRingsLater(configuration(aio: aio), rebuilds: rebuilds)
        #expect(ringSetup == allowed)
        let policy = Sandboxing.processPolicy(networkServices: false, ringSetup: ringSetup)
        #expect(policy.extraCalls.contains("io_uring_setup") == allowed)
        #expect(policy.extraRefused.contains("io_uring_setup") == !allowed)
        #expect(policy.extraRefused.contains("io_uring_register") == !allowed)
    }

    @Test func submittingToExistingRingsStaysAllowed() {
        let policy = Sandboxing.processPolicy(networkServices: true, ringSetup: false)
        #expect(!policy.extraRefused.contains("io_uring_enter"))
        #expect(policy.extraCalls.contains("sendto"), "network services keep their calls")
    }
}
