import EmbeddedFirmware
import Foundation
import Testing

/// The `fw: ` lines of a console transcript (the platform-independent ones).
func firmwareLines(_ text: String) -> [String] {
    text.split(separator: "\n").map(String.init).filter { $0.hasPrefix("fw: ") }
}

/// The built-in firmware through the real binary: SMP bring-up, power off, power button, forced
/// stop, boot timer.
@Suite(.serialized, .enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
struct FirmwareBootTests {
    @Test(arguments: [1, 2, 4])
    func defaultGuestBootsEveryVCPUAndPowersOff(vcpus: Int) throws {
        let result = try SwiftVMMBinary.run(["run", "--cpus", "\(vcpus)", "--cmdline", "console=ttyS0"])
        #expect(result.status == 0, "stderr: \(result.standardError)")
        var expected = ["fw: SwiftVMM test firmware 1", "fw: cpus \(vcpus)"]
        expected += (1..<vcpus).map { "fw: cpu \($0) up (apic id \($0))" }
        expected += ["fw: all \(vcpus) cpus up", "fw: ready", "fw: powering off"]
        #expect(firmwareLines(result.standardOutput) == expected)
        #expect(result.standardOutput.contains("fw~ cmdline: console=ttyS0"))
        #expect(result.standardOutput.contains("fw~ memmap: 0x0000000000100000-0x0000000007ffffff ram"))
        #expect(result.standardError.contains("guest ready (boot timer)"), "boot-timer timestamp logged")
    }

    @Test func guestExitStatusMapsIntoTheGuestRange() throws {
        let result = try SwiftVMMBinary.run(["run", "--cmdline", "fw.exit=5"])
        #expect(result.status == 69)
        #expect(firmwareLines(result.standardOutput).last == "fw: exit 5")
    }

    @Test func sigtermPressesThePowerButtonAndTheGuestPowersOff() throws {
        let process = try RunningProcess(
            executable: SwiftVMMBinary.url, arguments: ["run", "--cpus", "2", "--cmdline", "fw.wait=button"])
        let waiting = process.waitForOutput(containing: "fw: waiting for the power button", timeoutSeconds: 30)
        #expect(waiting, "output so far: \(process.standardOutput.text)")
        process.send(SIGTERM)
        let (status, timedOut) = process.waitForExit(timeoutSeconds: 30)
        #expect(!timedOut)
        #expect(status == 0, "stderr: \(process.standardError.text)")
        #expect(
            firmwareLines(process.standardOutput.text).suffix(3) == [
                "fw: waiting for the power button", "fw: power button pressed", "fw: powering off",
            ])
        #expect(process.standardError.text.contains("pressing the power button"))
    }

    @Test func aGuestThatIgnoresTheButtonIsForcedToStopAfterTheGracePeriod() throws {
        let process = try RunningProcess(
            executable: SwiftVMMBinary.url,
            arguments: ["run", "--grace-seconds", "1", "--cmdline", "fw.wait=button fw.ignore-button"])
        #expect(process.waitForOutput(containing: "fw: waiting for the power button", timeoutSeconds: 30))
        let signalled = Date()
        process.send(SIGTERM)
        let (status, timedOut) = process.waitForExit(timeoutSeconds: 30)
        let elapsed = Date().timeIntervalSince(signalled)
        #expect(!timedOut)
        #expect(status == 7, "forced stop; stderr: \(process.standardError.text)")
        #expect(process.standardOutput.text.contains("fw: power button pressed (ignored)"))
        #expect(elapsed >= 1 && elapsed < 10, "stopped after the 1 s grace period, took \(elapsed) s")
        #expect(process.standardError.text.contains("forcing a stop"))
    }

    @Test func aSecondSignalForcesTheStopAtOnce() throws {
        let process = try RunningProcess(
            executable: SwiftVMMBinary.url, arguments: ["run", "--cmdline", "fw.wait=button fw.ignore-button"])
        #expect(process.waitForOutput(containing: "fw: waiting for the power button", timeoutSeconds: 30))
        process.send(SIGINT)
        #expect(process.waitForOutput(containing: "(ignored)", timeoutSeconds: 10))
        process.send(SIGINT)
        let (status, timedOut) = process.waitForExit(timeoutSeconds: 10)
        #expect(!timedOut && status == 7)
    }

    @Test func guestFaultEndsWithItsStatus() throws {
        let result = try SwiftVMMBinary.run(["run", "--cmdline", "fw.fault"])
        #expect(result.status == ExitStatusOf.guest(0x3f))
        #expect(result.standardOutput.contains("fw: FATAL exception 6"))
    }

    @Test func consoleCanGoToAFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("swiftvmm-console-\(getpid()).log")
            .path
        try? FileManager.default.removeItem(atPath: path)
        let result = try SwiftVMMBinary.run(["run", "--console", "file=\(path)"])
        #expect(result.status == 0)
        #expect(!result.standardOutput.contains("fw: "))
        let console = try String(contentsOfFile: path, encoding: .utf8)
        #expect(firmwareLines(console).last == "fw: powering off")
        try? FileManager.default.removeItem(atPath: path)
        let unwritable = try SwiftVMMBinary.run(["run", "--console", "file=/nonexistent/dir/console.log"])
        #expect(unwritable.status == 11)
        #expect(unwritable.standardError.contains("console"))
    }
}

enum ExitStatusOf {
    static func guest(_ value: Int32) -> Int32 { 64 + min(value, 63) }
}
