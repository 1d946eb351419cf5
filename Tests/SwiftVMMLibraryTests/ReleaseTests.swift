import Foundation
import Testing
import VMM

/// Releasing a machine (running or not) and failed starts leave no thread or descriptor behind.
@Suite(.serialized, .enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
struct ReleaseTests {
    @Test func releasingARunningMachineStopsItAndFreesEverything() async throws {
        // Warm up once: the first machine installs the kick handler and Dispatch's threads.
        try await runAndRelease(switches: "fw.exit=0", waitForEnd: true)
        let baseline = ProcessResources.current
        for _ in 0..<5 { try await runAndRelease(switches: "fw.wait=button", waitForEnd: false) }
        let after = await ProcessResources.settle(to: baseline)
        #expect(after.threads <= baseline.threads, "threads: \(baseline) before, \(after) after")
        #expect(after.descriptors <= baseline.descriptors, "descriptors: \(baseline) before, \(after) after")
    }

    @Test func aMachineNeverStartedReleasesEverything() async throws {
        _ = try Machine(configuration: firmware("fw.exit=0"))
        let baseline = ProcessResources.current
        for _ in 0..<5 { _ = try Machine(configuration: firmware("fw.exit=0")) }
        let after = await ProcessResources.settle(to: baseline)
        #expect(after.descriptors <= baseline.descriptors, "\(baseline) before, \(after) after")
    }

    /// A start that fails half way (console input from a regular file, which epoll refuses)
    /// throws, ends in `stopped`, and leaves no thread or descriptor.
    @Test func aFailedStartLeavesNothingBehind() async throws {
        let path = NSTemporaryDirectory() + "swiftvmm-release-\(getpid())"
        FileManager.default.createFile(atPath: path, contents: Data("x".utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = open(path, O_RDONLY)
        defer { close(file) }
        var configuration = firmware("fw.wait=button")
        configuration.console = .fileDescriptor(read: file, write: nil)
        try await failToStart(configuration)  // warm-up
        let baseline = ProcessResources.current
        for _ in 0..<3 { try await failToStart(configuration) }
        let after = await ProcessResources.settle(to: baseline)
        #expect(after.threads <= baseline.threads, "threads: \(baseline) before, \(after) after")
        #expect(after.descriptors <= baseline.descriptors, "descriptors: \(baseline) before, \(after) after")
    }

    private func failToStart(_ configuration: VirtualMachineConfiguration) async throws {
        let machine = try Machine(configuration: configuration)
        #expect {
            try machine.start()
        } throws: { error in
            (error as? MachineError)?.code == .setupFailed
        }
        guard case .stopped = machine.state else {
            Issue.record("a failed start ends in stopped, not \(machine.state)")
            return
        }
    }

    private func runAndRelease(switches: String, waitForEnd: Bool) async throws {
        let machine = try Machine(configuration: firmware(switches))
        let console = ConsoleCollector(try #require(machine.console))
        try machine.start()
        if waitForEnd {
            _ = try await machine.waitUntilStopped()
        } else {
            #expect(await console.waitFor { $0 == "fw: ready" })
        }
        // Released here while running: deinit stops it and waits for its threads.
    }
}
