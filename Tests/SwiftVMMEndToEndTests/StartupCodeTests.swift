import Foundation
import Testing

/// The executable hands its start-up code back once the machine runs (StartupCode.swift): its
/// code mappings' resident pages drop, and the VMM goes on working on the pages it faults back.
@Suite(.serialized, .enabled(if: kvmUsable, "SKIPPED: needs read/write access to /dev/kvm to run a guest"))
struct StartupCodeTests {
    /// Resident KiB of the process's executable (r-xp) file mappings, from /proc/PID/smaps.
    func residentCodeKiB(_ pid: Int32) -> Int {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/smaps", encoding: .utf8)) ?? ""
        var total = 0
        var inCode = false
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), !first.hasSuffix(":") {
                inCode = fields.count >= 6 && fields[1] == "r-xp" && fields[5].hasPrefix("/")
            } else if inCode, fields.first == "Rss:", fields.count >= 2, let kib = Int(fields[1]) {
                total += kib
            }
        }
        return total
    }

    /// Boots the firmware to its wait for the power button, measures, then presses the button.
    func residentCodeOfAnIdleGuest(environment: [String: String]) throws -> Int {
        let guest = try RunningProcess(
            executable: SwiftVMMBinary.url, arguments: ["run", "--cmdline", "fw.wait=button"], environment: environment)
        #expect(guest.waitForOutput(containing: "fw: waiting for the power button", timeoutSeconds: 60))
        let resident = residentCodeKiB(guest.pid)
        guest.send(SIGTERM)
        #expect(guest.waitForExit(timeoutSeconds: 30) == (0, false), "\(guest.standardError.text)")
        return resident
    }

    @Test func codeOnlySetUpRanIsNoLongerResidentOnceTheMachineRuns() throws {
        let kept = try residentCodeOfAnIdleGuest(environment: ["SWIFTVMM_KEEP_STARTUP_CODE": "1"])
        let released = try residentCodeOfAnIdleGuest(environment: [:])
        #expect(kept > 0 && released > 0, "resident code: \(kept) KiB kept, \(released) KiB released")
        #expect(released + 2048 < kept, "resident code: \(kept) KiB kept, \(released) KiB released")
    }
}
