import Foundation
import Testing

/// Debian's cloud kernel, uncompressed (scripts/fetch-cloud-kernel.sh caches it).
private let cloudVmlinux: String? = {
    let directory = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/swiftvmm/kernels")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.first { $0.hasPrefix("vmlinux-") && $0.hasSuffix("-cloud-amd64") }.map {
        directory.appendingPathComponent($0).path
    }
}()

/// An unmodified distribution kernel through PVH on this machine's KVM. On PVM its CPL-0 code
/// is emulated, so the test reads only the kernel's first messages (about 20 s in): its view of
/// SwiftVMM's memory map, command line and CPUID.
@Suite(
    .enabled(
        if: FileManager.default.isWritableFile(atPath: "/dev/kvm"), "SKIPPED: needs read/write access to /dev/kvm"),
    .enabled(
        if: cloudVmlinux != nil, "SKIPPED: Debian's cloud kernel is not cached (run scripts/fetch-cloud-kernel.sh)"))
struct LinuxEarlyBootTests {
    @Test func debianCloudKernelReportsOurMemoryMapAndCommandLine() throws {
        let commandLine = "console=ttyS0 earlyprintk=serial,ttyS0 panic=-1 swiftvmm.test=early"
        let guest = try RunningProcess(
            executable: SwiftVMMBinary.url,
            arguments: [
                "run", "--kernel", try #require(cloudVmlinux), "--memory", "512", "--grace-seconds", "1", "--cmdline",
                commandLine,
            ])
        let reached = guest.waitForOutput(containing: "Kernel command line:", timeoutSeconds: 120)
        guest.send(SIGTERM)
        _ = guest.waitForExit(timeoutSeconds: 60)
        let console = guest.standardOutput.text
        #expect(reached, "the kernel got that far: \(console.suffix(2000))")
        for expected in [
            "Linux version 6.", "Command line: \(commandLine)",
            "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
            "BIOS-e820: [mem 0x0000000000100000-0x000000001fffffff] usable", "Hypervisor detected: KVM",
            "kvm-clock: Using msrs", "TSC deadline timer available", "Kernel command line: \(commandLine)",
        ] {
            #expect(console.contains(expected), "\(expected)")
        }
    }
}
