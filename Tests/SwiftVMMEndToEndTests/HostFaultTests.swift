import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

private let rootWithKVM = FileManager.default.isWritableFile(atPath: "/dev/kvm") && getuid() == 0

/// Host faults under a running guest: a disk that fails with ENOSPC or EIO, a tap deleted while
/// the guest uses it. The failing requests complete with IOERR (the guest sees them and goes on),
/// the lost frames are dropped, and the VMM neither crashes nor spins.
@Suite(
    .tags(.kvm), .serialized, .enabled(if: rootWithKVM, "SKIPPED: needs root (mounts, loop devices, taps) and /dev/kvm")
)
struct HostFaultTests {
    /// A small tmpfs, unmounted when the test ends.
    final class TinyFileSystem {
        let path: String
        init(kibibytes: Int) throws {
            path = "/var/tmp/swiftvmm-fault-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let mount = try HostTool.require("mount", package: "mount")
            let result = try RunningProcess(
                executable: URL(fileURLWithPath: mount),
                arguments: ["-t", "tmpfs", "-o", "size=\(kibibytes)k", "tmpfs", path])
            #expect(result.waitForExit(timeoutSeconds: 10).status == 0, "mount: \(result.standardError.text)")
        }
        deinit {
            if let umount = try? HostTool.require("umount", package: "mount") {
                _ = try? RunningProcess(executable: URL(fileURLWithPath: umount), arguments: [path]).waitForExit(
                    timeoutSeconds: 10)
            }
            try? FileManager.default.removeItem(atPath: path)
        }

        /// A sparse image of `mebibytes` MiB: larger than the file system can hold.
        func sparseImage(mebibytes: Int) throws -> String {
            let image = path + "/disk.img"
            let fd = open(image, O_CREAT | O_RDWR, 0o644)
            #expect(fd >= 0)
            #expect(ftruncate(fd, off_t(mebibytes << 20)) == 0)
            close(fd)
            return image
        }
    }

    /// The firmware's blk self-test writes its pattern over a disk whose writes fail (ENOSPC, or
    /// EIO from a loop device over a full file system): the
    /// request completes with IOERR, the firmware reports it and ends with its own status.
    private func expectIOErrorReachesTheGuest(disk: String, aio: String) throws {
        let result = try SwiftVMMBinary.run([
            "run", "--disk", "path=\(disk),aio=\(aio)", "--cmdline", "fw.test=blk fw.blk-mib=6",
        ])
        let failure = result.standardOutput.split(separator: "\n").first { $0.contains("fw: blk0 FAIL") } ?? ""
        // IOERR is status 1: on a write (the file system is full) or, when the host buffered the
        // writes (a loop device), on the FLUSH whose fdatasync reports the error.
        #expect(
            (failure.contains("write") && failure.contains("status 1, expected 0"))
                || failure.hasSuffix("flush status 1"),
            "\(result.standardOutput)")
        #expect(result.status == 64 + 0x38, "the firmware ends with FW_STATUS_BLK_FAILED")
        #expect(!result.standardError.contains("seccomp") && !result.standardError.contains("Fatal"))
    }

    /// Every engine: the errors of operations in flight (io_uring, worker threads) reach the
    /// guest as IOERR just as the synchronous path's do.
    static let engines = ["sync", "threads", "io_uring"]

    @Test(arguments: engines)
    func aFullDiskGivesIOErrors(aio: String) throws {
        let tmpfs = try TinyFileSystem(kibibytes: 1024)
        try expectIOErrorReachesTheGuest(disk: try tmpfs.sparseImage(mebibytes: 8), aio: aio)
    }

    @Test(arguments: engines)
    func aBlockDeviceThatFailsWithEIOGivesIOErrors(aio: String) throws {
        let losetup = try HostTool.require("losetup", package: "mount")
        let tmpfs = try TinyFileSystem(kibibytes: 1024)
        let image = try tmpfs.sparseImage(mebibytes: 8)
        let attach = try RunningProcess(
            executable: URL(fileURLWithPath: losetup), arguments: ["--find", "--show", image])
        #expect(attach.waitForExit(timeoutSeconds: 10).status == 0, "losetup: \(attach.standardError.text)")
        let device = attach.standardOutput.text.trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(device.hasPrefix("/dev/loop"))
        defer {
            _ = try? RunningProcess(executable: URL(fileURLWithPath: losetup), arguments: ["-d", device]).waitForExit(
                timeoutSeconds: 10)
        }
        try expectIOErrorReachesTheGuest(disk: device, aio: aio)
    }

    /// The tap is deleted under a guest that answers pings: the VMM says so once, stops reading
    /// it (no spinning on its error events), keeps running, and powers off on SIGTERM.
    @Test func aDeletedTapIsDroppedAndTheVMGoesOn() throws {
        let namespace = try NetworkNamespace()
        let guest = try namespace.start([
            SwiftVMMBinary.url.path, "run", "--net", "tap=tapgone", "--cmdline", "fw.net=10.0.2.15/24",
        ])
        #expect(guest.waitForOutput(containing: "fw: net ready", timeoutSeconds: 30), "\(guest.standardError.text)")
        let deleted = try namespace.run([namespace.ip, "link", "del", "tapgone"])
        #expect(deleted.status == 0, "\(deleted.output)")
        Thread.sleep(forTimeInterval: 0.5)
        let ioThread = try #require(NetworkTests.thread(named: "vmm-io", of: guest.processIdentifier))
        let before = try NetworkTests.cpuTicks(of: ioThread, in: guest.processIdentifier)
        Thread.sleep(forTimeInterval: 2)
        let after = try NetworkTests.cpuTicks(of: ioThread, in: guest.processIdentifier)
        #expect(after - before <= 4, "the I/O thread used \(after - before) ticks (of 200) in 2 s")
        #expect(guest.standardError.text.contains("tap tapgone failed"), "\(guest.standardError.text)")
        guest.send(SIGTERM)
        let (status, timedOut) = guest.waitForExit(timeoutSeconds: 30)
        #expect(!timedOut)
        #expect(status == 0, "stderr: \(guest.standardError.text)")
    }
}
