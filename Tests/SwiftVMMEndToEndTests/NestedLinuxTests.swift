import Foundation
import Testing

/// The harness's outer initramfs (scripts/test.sh builds it with firmware/linux/nested/).
private let outerInitramfs = FileManager.default.homeDirectoryForCurrentUser
    .appendingPathComponent(".cache/swiftvmm/nested/outer-initramfs.cpio.gz").path

/// Full Linux boots with real hardware-virtualization semantics: an outer VM under QEMU's TCG
/// with an SVM CPU runs the static swiftvmm against its /dev/kvm, which boots Debian's unmodified
/// cloud kernel (bzImage, 64-bit entry, SwiftVMM's ACPI tables) with the test initramfs.
@Suite(
    .serialized,
    .enabled(
        if: FileManager.default.fileExists(atPath: outerInitramfs),
        "SKIPPED: the nested-SVM harness is not built (firmware/linux/nested/build-outer-initramfs.sh)"),
    .enabled(
        if: FileManager.default.isExecutableFile(atPath: "/usr/bin/qemu-system-x86_64"),
        "SKIPPED: qemu-system-x86_64 is not installed"))
struct NestedLinuxTests {
    @Test(arguments: [1, 2])
    func debianCloudKernelBootsToUserSpaceAndPowersOff(vcpus: Int) throws {
        let harness = try RunningProcess(
            executable: SwiftVMMBinary.repositoryRoot.appendingPathComponent("firmware/linux/nested/run-nested.sh"),
            arguments: ["\(vcpus)"], environment: ["NESTED_NO_BUILD": "1", "NESTED_TIMEOUT": "180"])
        let (status, timedOut) = harness.waitForExit(timeoutSeconds: 240)
        let console = harness.standardOutput.text
        #expect(!timedOut && status == 0, "QEMU: \(status); \(console.suffix(3000))")
        for expected in [
            "ACPI: RSDP 0x00000000000E0000", "ACPI: button: Power Button [PWRB]", "guest: ready",
            "swiftvmm: guest ready (boot timer)", "guest: cpus \(vcpus)", "reboot: Power down",
            "outer: swiftvmm exit 0 ",
        ] {
            #expect(console.contains(expected), "\(expected) — \(console.suffix(2000))")
        }
    }
}
