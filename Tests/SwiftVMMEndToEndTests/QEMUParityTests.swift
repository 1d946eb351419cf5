import EmbeddedFirmware
import Foundation
import Testing

/// The very same firmware file boots under QEMU (microvm, KVM) and SwiftVMM, and prints the
/// same platform-independent (`fw: `) lines.
@Suite(
    .tags(.kvm, .slow),
    .serialized,
    .enabled(if: kvmUsable, kvmSkipReason))
struct QEMUParityTests {
    /// Builds the firmware from firmware/src into a scratch file (with gcc and binutils' ld).
    private func buildFirmware() throws -> URL {
        _ = try HostTool.gcc
        _ = try HostTool.ld
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("swiftvmm-parity-\(getpid()).elf")
        let build = try RunningProcess(
            executable: SwiftVMMBinary.repositoryRoot.appendingPathComponent("firmware/build.sh"),
            arguments: [output.path])
        let (status, timedOut) = build.waitForExit(timeoutSeconds: 120)
        #expect(status == 0 && !timedOut, "firmware/build.sh: \(build.standardError.text)")
        return output
    }

    /// Starts firmware/qemu-run.sh with `arguments` and `environment` (QEMU: qemu-system-x86_64).
    private func startQEMU(_ arguments: [String], environment: [String: String] = [:]) throws -> RunningProcess {
        try RunningProcess(
            executable: SwiftVMMBinary.repositoryRoot.appendingPathComponent("firmware/qemu-run.sh"),
            arguments: arguments, environment: environment.merging(["QEMU": HostTool.qemu]) { mine, _ in mine })
    }

    @Test func theEmbeddedFirmwareIsTheFileBuiltFromTheSources() throws {
        let built = try Data(contentsOf: buildFirmware())
        #expect([UInt8](built) == EmbeddedFirmware.elf, "the build is deterministic and embedded as built")
    }

    @Test(arguments: [1, 2, 4])
    func sameFirmwareLinesUnderQEMUAndSwiftVMM(vcpus: Int) throws {
        let firmware = try buildFirmware()
        let commandLine = "console=ttyS0 fw.exit=7"
        let swiftvmm = try SwiftVMMBinary.run(
            ["run", "--firmware", firmware.path, "--cpus", "\(vcpus)", "--cmdline", commandLine])
        let qemu = try startQEMU([firmware.path, "\(vcpus)", commandLine])
        let (qemuStatus, timedOut) = qemu.waitForExit(timeoutSeconds: 90)
        #expect(!timedOut)
        #expect(qemuStatus == (7 << 1) | 1, "QEMU's isa-debug-exit status; stderr: \(qemu.standardError.text)")
        #expect(swiftvmm.status == 64 + 7, "SwiftVMM's guest range")
        let swiftLines = firmwareLines(swiftvmm.standardOutput)
        #expect(swiftLines.contains("fw: all \(vcpus) cpus up"))
        #expect(swiftLines == firmwareLines(qemu.standardOutput.text))
    }

    @Test func sameVirtioRNGSelfTestLinesUnderQEMUAndSwiftVMM() throws {
        let firmware = try buildFirmware()
        let commandLine = "fw.test=rng fw.exit=7"
        let swiftvmm = try SwiftVMMBinary.run(["run", "--firmware", firmware.path, "--rng", "--cmdline", commandLine])
        let qemu = try startQEMU(
            [firmware.path, "1", commandLine], environment: ["QEMU_EXTRA_ARGS": "-device virtio-rng-device"])
        let (qemuStatus, timedOut) = qemu.waitForExit(timeoutSeconds: 90)
        #expect(!timedOut && qemuStatus == (7 << 1) | 1, "stderr: \(qemu.standardError.text)")
        #expect(swiftvmm.status == 64 + 7, "stderr: \(swiftvmm.standardError)")
        let swiftLines = firmwareLines(swiftvmm.standardOutput)
        #expect(swiftLines.contains("fw: rng OK"))
        #expect(swiftLines == firmwareLines(qemu.standardOutput.text))
    }

    /// Queue 0 of a single-queue disk, and (VIRTIO_BLK_F_MQ) queue 3 of a four-queue one.
    @Test(arguments: [(1, 0), (4, 3)])
    func sameVirtioBlockSelfTestLinesUnderQEMUAndSwiftVMM(queues: Int, queue: Int) throws {
        let firmware = try buildFirmware()
        let image = FileManager.default.temporaryDirectory.appendingPathComponent("swiftvmm-parity-\(getpid()).img")
        try Data(count: 4 << 20).write(to: image)
        defer { try? FileManager.default.removeItem(at: image) }
        let commandLine = "fw.test=blk fw.exit=7" + (queue > 0 ? " fw.blk-queue=\(queue)" : "")
        let swiftvmm = try SwiftVMMBinary.run([
            "run", "--firmware", firmware.path, "--disk", "path=\(image.path),serial=disk0,cache=none,queues=\(queues)",
            "--cmdline", commandLine,
        ])
        let qemu = try startQEMU(
            [firmware.path, "1", commandLine],
            environment: [
                "QEMU_EXTRA_ARGS":
                    "-drive file=\(image.path),format=raw,if=none,id=d0,cache=none "
                    + "-device virtio-blk-device,drive=d0,serial=disk0,num-queues=\(queues)"
            ])
        let (qemuStatus, timedOut) = qemu.waitForExit(timeoutSeconds: 90)
        #expect(!timedOut && qemuStatus == (7 << 1) | 1, "stderr: \(qemu.standardError.text)")
        #expect(swiftvmm.status == 64 + 7, "stderr: \(swiftvmm.standardError)")
        let swiftLines = firmwareLines(swiftvmm.standardOutput)
        #expect(swiftLines.contains("fw: blk OK"))
        #expect(swiftLines == firmwareLines(qemu.standardOutput.text))
    }
}
