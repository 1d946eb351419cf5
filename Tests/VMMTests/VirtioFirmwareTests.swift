import Foundation
import Glibc
import Testing
import VMM

/// The firmware's virtio-rng self-test through the library: queue notifications arrive through
/// the ioeventfd (never as exits), interrupts through the irqfd, IOAPIC and local APIC.
@Suite(.enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm), .serialized)
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
        let counts = try #require(machine.statistics.virtioNotificationCounts.first)
        #expect(counts.throughEventFD >= 1, "notifications came through the ioeventfd")
        #expect(counts.throughRegister == 0, "no notification took an exit to user space")
    }
}
