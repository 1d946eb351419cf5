import Foundation
import Testing

/// The executable hands its start-up code back once the machine runs (StartupCode.swift): its
/// code mappings' resident pages drop, and the VMM goes on working on the pages it faults back.
@Suite(.serialized, .enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
struct StartupCodeTests {
    /// Whether the file mapped at `path` is a shared library: `.so` in its file name
    /// (`libc.so.6`), whatever the directories above it are called (a checkout under a
    /// `mktemp -d` directory such as `/tmp/tmp.soXXXX` holds the executable, not a library).
    static func isSharedLibrary(_ path: Substring) -> Bool {
        (path.split(separator: "/").last ?? path).contains(".so")
    }

    /// Resident KiB of the process's executable (r-xp) file mappings, from /proc/PID/smaps: of the
    /// shared libraries (`isSharedLibrary`), or of the others (the executable).
    func residentCodeKiB(_ pid: Int32, libraries: Bool) -> Int {
        // FileHandle reads to the end; String(contentsOfFile:) stops after the first ~4 KiB of a
        // /proc file (its size reads as 0).
        let data = FileHandle(forReadingAtPath: "/proc/\(pid)/smaps")?.readDataToEndOfFile() ?? Data()
        let text = String(decoding: data, as: UTF8.self)
        var total = 0
        var inCode = false
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), !first.hasSuffix(":") {
                inCode =
                    fields.count >= 6 && fields[1] == "r-xp" && fields[5].hasPrefix("/")
                    && Self.isSharedLibrary(fields[5]) == libraries
            } else if inCode, fields.first == "Rss:", fields.count >= 2, let kib = Int(fields[1]) {
                total += kib
            }
        }
        return total
    }

    /// Boots the firmware to its wait for the power button, measures, then presses the button.
    func residentCodeOfAnIdleGuest(environment: [String: String]) throws -> (executable: Int, libraries: Int) {
        let guest = try RunningProcess(
            executable: SwiftVMMBinary.url, arguments: ["run", "--cmdline", "fw.wait=button"], environment: environment)
        #expect(guest.waitForOutput(containing: "fw: waiting for the power button", timeoutSeconds: 60))
        let resident = (residentCodeKiB(guest.pid, libraries: false), residentCodeKiB(guest.pid, libraries: true))
        guest.send(SIGTERM)
        #expect(guest.waitForExit(timeoutSeconds: 30) == (0, false), "\(guest.standardError.text)")
        return resident
    }

    @Test func codeOnlySetUpRanIsNoLongerResidentOnceTheMachineRuns() throws {
        let kept = try residentCodeOfAnIdleGuest(environment: ["SWIFTVMM_KEEP_STARTUP_CODE": "1"])
        let released = try residentCodeOfAnIdleGuest(environment: [:])
        #expect(
            kept.executable > 0 && released.executable > 0, "resident code (KiB): \(kept) kept, \(released) released")
        #expect(released.executable + 2048 < kept.executable, "resident code (KiB): \(kept) kept, \(released) released")
        #expect(released.libraries < kept.libraries, "resident code (KiB): \(kept) kept, \(released) released")
    }
}

/// How StartupCodeTests tells the executable's mappings from the libraries', without a guest.
@Suite struct StartupCodeMappingTests {
    /// A checkout under a directory whose name holds ".so" (a `mktemp -d` name such as
    /// `/tmp/tmp.soXXXX`) still has its executable counted as the executable.
    @Test func librariesAreToldByTheirFileNameNotTheirDirectories() {
        #expect(!StartupCodeTests.isSharedLibrary("/tmp/tmp.soTEST/x/.build/debug/swiftvmm"))
        #expect(!StartupCodeTests.isSharedLibrary("/work/swiftvmm/.build/x86_64-unknown-linux-gnu/debug/swiftvmm"))
        #expect(StartupCodeTests.isSharedLibrary("/usr/lib/x86_64-linux-gnu/libc.so.6"))
        #expect(StartupCodeTests.isSharedLibrary("/lib64/ld-linux-x86-64.so.2"))
        #expect(StartupCodeTests.isSharedLibrary("/tmp/tmp.soTEST/x/.build/debug/libswift_Concurrency.so"))
    }
}
