import Foundation
import Glibc
import Testing
import VMM

/// The firmware's virtio-rng self-test through the library: queue notifications arrive through
/// the ioeventfd (never as exits), interrupts through the irqfd, IOAPIC and local APIC.
@Suite(.enabled(if: kvmAvailable, kvmSkipReason), .serialized)
struct VirtioFirmwareTests {
    @Test(arguments: ["", " fw.virtio-features=plain"])
    func entropyDeviceWorksEndToEnd(features: String) throws {
        let console = "/tmp/swiftvmm-virtio-\(getpid()).log"
        let configuration = VirtualMachineConfiguration(
            vcpuCount: 2, commandLine: "fw.test=rng" + features + " fw.exit=0", console: .file(path: console),
            entropyDevice: true)
        let machine = try Machine(configuration: configuration)
        let exit = try machine.run()
        let output = (try? String(contentsOfFile: console, encoding: .utf8)) ?? ""
        unlink(console)
        #expect(exit == .guestStatus(0), "console: \(output)")
        #expect(output.contains("fw: rng interrupt delivered"))
        #expect(output.contains("fw: rng 19 requests, 672 bytes"))
        #expect(output.contains("fw: rng OK"))
        let counts = try #require(machine.virtioNotificationCounts.first)
        #expect(counts.throughEventFD >= 1, "notifications came through the ioeventfd")
        #expect(counts.throughRegister == 0, "no notification took an exit to user space")
    }
}

/// A machine that ran and was released leaves no descriptor and no thread behind.
@Suite(.enabled(if: kvmAvailable, kvmSkipReason), .serialized)
struct MachineTeardownTests {
    private func count(_ directory: String) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: directory).count) ?? -1
    }

    @Test func noDescriptorOrThreadOutlivesTheMachine() throws {
        // A first run warms up what stays for the process (the kick handler, the runtime's threads).
        func runOnce() throws {
            let machine = try Machine(
                configuration: VirtualMachineConfiguration(
                    vcpuCount: 2, commandLine: "fw.test=rng fw.exit=0", console: .none, entropyDevice: true))
            #expect(try machine.run() == .guestStatus(0))
        }
        try runOnce()
        let descriptors = count("/proc/self/fd")
        let threads = count("/proc/self/task")
        try runOnce()
        try runOnce()
        #expect(count("/proc/self/fd") == descriptors, "vCPU, VM, eventfd, epoll and memory descriptors are closed")
        #expect(count("/proc/self/task") <= threads, "vCPU, I/O and monitor threads are gone")
    }
}
