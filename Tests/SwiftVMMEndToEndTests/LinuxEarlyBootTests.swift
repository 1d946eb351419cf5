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
/// SwiftVMM's memory map, command line, CPUID and ACPI tables.
@Suite(
    .tags(.kvm, .slow),
    .enabled(if: kvmUsable, kvmSkipReason),
    .enabled(
        if: cloudVmlinux != nil, "SKIPPED: Debian's cloud kernel is not cached (run scripts/fetch-cloud-kernel.sh)"))
struct LinuxEarlyBootTests {
    @Test func debianCloudKernelReportsOurMemoryMapCommandLineAndACPITables() throws {
        let commandLine = "console=ttyS0 earlyprintk=serial,ttyS0 panic=-1 swiftvmm.test=early"
        let guest = try RunningProcess(
            executable: SwiftVMMBinary.url,
            arguments: [
                "run", "--kernel", try #require(cloudVmlinux), "--memory", "512", "--cpus", "2", "--grace-seconds", "1",
                "--cmdline",
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
            // SwiftVMM's ACPI tables, as the kernel reads them.
            "ACPI: RSDP 0x00000000000E0000 000024 (v02 SVMM  )", "ACPI: XSDT 0x", "ACPI: FACP 0x", "ACPI: DSDT 0x",
            "ACPI: APIC 0x",
            "IOAPIC[0]: apic_id 2, version 17, address 0xfec00000, GSI 0-23",
            "ACPI: INT_SRC_OVR (bus 0 bus_irq 0 global_irq 2 high edge)", "smpboot: Allowing 2 CPUs",
        ] {
            #expect(console.contains(expected), "\(expected)")
        }
    }
}
