import Foundation
import Testing

/// A real-mode guest that resets the machine through the i8042 (port 0x64 ← 0xFE) at once.
private let resettingGuest = #"{"memory_mib": 2, "raw_code": {"mode": "real16", "code": [176, 254, 230, 100, 244]}}"#

/// Guest reboots through the real binary: status 3 by default, or a new boot in the same
/// process with `--reboot-in-place`.
@Suite(.serialized, .enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
struct RebootTests {
    @Test func aGuestResetEndsTheRunWithStatus3() throws {
        let config = try SwiftVMMBinary.temporaryFile("reset.json", contents: Data(resettingGuest.utf8))
        let result = try SwiftVMMBinary.run(["run", "--config", config.path])
        #expect(result.status == 3, "stderr: \(result.standardError)")
        #expect(result.standardError.contains("guest reset"))
    }

    /// The guest resets over and over: every reboot builds a fresh machine and releases the old
    /// one (its disk lock too, or the next boot would fail with status 14; its threads and file
    /// descriptors, or their counts would grow), until SIGTERM ends the run.
    @Test func rebootInPlaceBootsAgainAndReleasesTheOldMachine() throws {
        let config = try SwiftVMMBinary.temporaryFile("reset-in-place.json", contents: Data(resettingGuest.utf8))
        let disk = try SwiftVMMBinary.temporaryFile("reset-in-place.img", contents: Data(count: 1 << 20))
        let process = try RunningProcess(
            executable: SwiftVMMBinary.url,
            arguments: [
                "run", "--config", config.path, "--disk", "path=\(disk.path)", "--reboot-in-place",
                "--grace-seconds", "0.5", "--log-level", "info",
            ])
        let early = waitForBoot(5, of: process) ? resourceCounts(of: process) : nil
        let late = waitForBoot(150, of: process) ? resourceCounts(of: process) : nil
        process.send(SIGTERM)
        let (status, timedOut) = process.waitForExit(timeoutSeconds: 30)
        let log = process.standardError.text
        #expect(early != nil && late != nil, "reboots seen: \(log.suffix(1500))")
        #expect(!timedOut)
        #expect(status == 7, "a guest that keeps resetting ends as a forced stop; stderr: \(log.suffix(1500))")
        #expect(!log.contains("in use"), "the old machine's disk lock was released")
        // The first boot's ring serves every later boot (the process filter forbids setting up
        // another): it is opened once, never falls back.
        #expect(log.components(separatedBy: "disks[0]: aio").count - 1 <= 1, "\(log.suffix(1500))")
        #expect(!log.contains("aio auto: "), "\(log.suffix(1500))")
        if let early, let late {
            #expect(early.threads > 0 && early.fileDescriptors > 0 && late.threads > 0, "read /proc")
            #expect(late.threads <= early.threads + 2, "threads: \(early.threads) → \(late.threads)")
            #expect(late.fileDescriptors <= early.fileDescriptors + 8, "fds: \(early) → \(late)")
            #expect(late.residentKiB <= early.residentKiB + 4096, "resident memory: \(early) → \(late)")
        }
    }

    /// Waits until stderr reports boot `number`; false after 60 s.
    private func waitForBoot(_ number: Int, of process: RunningProcess) -> Bool {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if process.standardError.text.contains("rebooting in place (boot \(number))") { return true }
            Thread.sleep(forTimeInterval: 0.005)
        }
        return false
    }

    /// The process's thread and open-file counts and resident memory (KiB) from /proc: the
    /// least of 50 readings 10 ms apart, so that a reading in the middle of a build (the next
    /// machine's descriptors open, the previous one's threads not yet joined) does not count.
    private func resourceCounts(of process: RunningProcess) -> (threads: Int, fileDescriptors: Int, residentKiB: Int) {
        var least = reading(of: process)
        for _ in 1..<50 {
            Thread.sleep(forTimeInterval: 0.01)
            let next = reading(of: process)
            least = (min(least.0, next.0), min(least.1, next.1), min(least.2, next.2))
        }
        return least
    }

    private func reading(of process: RunningProcess) -> (threads: Int, fileDescriptors: Int, residentKiB: Int) {
        let pid = process.processIdentifier
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Int {
            status.split(separator: "\n").first { $0.hasPrefix(name + ":") }
                .flatMap { Int($0.dropFirst(name.count + 1).split(whereSeparator: \.isWhitespace).first ?? "") } ?? -1
        }
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
        return (field("Threads"), fds, field("VmRSS"))
    }
}

/// A reboot in place with a NIC on a tap and a disk on io_uring: every boot's machine uses the
/// same tap, image and ring (nothing is opened again, so no capability is needed: no thread
/// holds one, and the process filter forbids io_uring_setup).
@Suite(
    .tags(.kvm),
    .serialized,
    .enabled(
        if: networkTestsPossible,
        "SKIPPED: needs /dev/kvm, /dev/net/tun and root (CAP_NET_ADMIN) for a network namespace and a tap"))
struct RebootInPlaceResourceTests {
    @Test func everyBootUsesTheSameTapImageAndRingWithoutAnyCapability() throws {
        let namespace = try NetworkNamespace()
        try namespace.addTap("tap0", address: "10.0.2.2/24")
        let disk = try SwiftVMMBinary.temporaryFile("reboot-ring.img", contents: Data(count: 1 << 20))
        let tools = SwiftVMMBinary.repositoryRoot.appendingPathComponent("firmware/tools")
        // Each boot sends 1 MiB to the sink: three boots, three MiB.
        let sink = try namespace.start([
            try HostTool.python3, tools.appendingPathComponent("udp-sink.py").path, "5001", "--expect", "\(3 << 20)",
            "--wait", "90", "--idle", "30",
        ])
        #expect(sink.waitForOutput(containing: "listening", timeoutSeconds: 30))
        let guest = try namespace.start([
            SwiftVMMBinary.url.path, "run", "--reboot-in-place", "--net", "tap=tap0", "--disk",
            "path=\(disk.path),aio=io_uring", "--log-level", "info", "--cmdline",
            "fw.test=blk fw.blk-mib=1 fw.net=10.0.2.15/24 fw.net-bench=10.0.2.2:5001,1,1000 fw.reboot-after=4000",
        ])
        let second = guest.waitForOutput(
            containing: "rebooting in place (boot 2)", inStandardError: true, timeoutSeconds: 60)
        #expect(second, "\(guest.standardError.text)")
        if second {
            ThreadPrivileges.expectUnprivileged(guest.processIdentifier, including: ["vmm-signals"])
        }
        #expect(
            guest.waitForOutput(containing: "rebooting in place (boot 3)", inStandardError: true, timeoutSeconds: 60))
        let (sinkStatus, _) = sink.waitForExit(timeoutSeconds: 90)
        #expect(
            sinkStatus == 0 && sink.standardOutput.text.contains("bytes \(3 << 20) "), "\(sink.standardOutput.text)")
        guest.send(SIGTERM)
        let (status, timedOut) = guest.waitForExit(timeoutSeconds: 30)
        #expect(!timedOut && [0, 7].contains(status), "\(guest.standardError.text)")
        let console = guest.standardOutput.text
        #expect(
            console.components(separatedBy: "fw: blk0 OK").count - 1 >= 3, "the disk's test passed on every boot")
        let log = guest.standardError.text
        if log.contains("aio io_uring") {
            #expect(log.components(separatedBy: "aio io_uring").count - 1 == 1, "one ring for every boot: \(log)")
        }
        #expect(!log.contains("seccomp"), "\(log)")
    }
}
