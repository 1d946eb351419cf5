import Foundation
import Testing

/// Disks as a pod's volumes give them: created when missing, refused on a read-only mount, and
/// flushed however the machine ends.
@Suite(.serialized, .enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
struct VolumeDiskTests {
    @Test func aMissingImageIsCreatedSparseAndTheGuestWritesIt() throws {
        let disks = try ScratchDisks()
        let path = disks.directory.appendingPathComponent("created.img").path
        let result = try SwiftVMMBinary.run([
            "run", "--disk", "path=\(path),create_size_mib=2", "--cmdline", "fw.test=blk fw.blk-mib=2",
        ])
        #expect(result.status == 0, "\(result.standardError)")
        var status = stat()
        #expect(stat(path, &status) == 0 && status.st_size == 2 << 20)
        #expect(try patternMismatch(path: path, diskIndex: 0) == nil)
        // A second boot uses the image as it is (never truncated or recreated).
        let again = try SwiftVMMBinary.run(["run", "--disk", "path=\(path),create_size_mib=2"])
        #expect(again.status == 0)
        #expect(try patternMismatch(path: path, diskIndex: 0) == nil)
        // Sparse: a created image that nothing wrote holds no blocks.
        let fresh = disks.directory.appendingPathComponent("fresh.img").path
        #expect(try SwiftVMMBinary.run(["run", "--disk", "path=\(fresh),create_size_mib=64"]).status == 0)
        #expect(stat(fresh, &status) == 0 && status.st_size == 64 << 20 && status.st_blocks == 0)
    }

    @Test(.enabled(if: getuid() == 0, "SKIPPED: mounting a read-only file system needs root"))
    func aWritableDiskOnAReadOnlyMountIsRefused() throws {
        let disks = try ScratchDisks()
        let mountPoint = disks.directory.appendingPathComponent("volume").path
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        #expect(try Self.mount(["-t", "tmpfs", "-o", "size=4m", "tmpfs", mountPoint]) == 0)
        defer { _ = try? Self.mount(["-l", mountPoint], program: "umount") }
        let image = mountPoint + "/disk.img"
        FileManager.default.createFile(atPath: image, contents: Data(count: 1 << 20))
        #expect(try Self.mount(["-o", "remount,ro", mountPoint]) == 0)
        let writable = try SwiftVMMBinary.run(["run", "--disk", "path=\(image)"])
        #expect(writable.status == 21, "\(writable.standardError)")
        #expect(writable.errorLines.count == 1 && writable.standardError.contains("read-only file system"))
        let readOnly = try SwiftVMMBinary.run(["run", "--disk", "path=\(image),readonly=on"])
        #expect(readOnly.status == 0, "a read-only disk is fine there: \(readOnly.standardError)")
        let create = try SwiftVMMBinary.run(["run", "--disk", "path=\(mountPoint)/new.img,create_size_mib=1"])
        #expect(
            create.status == 21 && create.standardError.contains("read-only file system"), "\(create.standardError)")
    }

    /// Forced stop (the guest ignores the power button): the written data is made durable with
    /// fdatasync after the stop signal, before the process exits.
    @Test func disksAreFlushedWhenTheStopIsForced() throws {
        let strace = try HostTool.strace
        let disks = try ScratchDisks()
        let image = try disks.image("forced.img", mebibytes: 1)
        let trace = disks.directory.appendingPathComponent("strace.txt").path
        let process = try RunningProcess(
            executable: URL(fileURLWithPath: strace),
            arguments: [
                "-f", "-e", "trace=fdatasync,exit_group,rt_sigtimedwait", "-e", "signal=none", "-o", trace,
                SwiftVMMBinary.url.path,
                "run", "--disk", "path=\(image)", "--grace-seconds", "0.5",
                "--cmdline", "fw.test=blk fw.blk-mib=1 fw.wait=button fw.ignore-button",
            ])
        #expect(process.waitForOutput(containing: "fw: waiting for the power button", timeoutSeconds: 60))
        // strace's child is swiftvmm: signal it, not strace.
        let children = try String(contentsOfFile: "/proc/\(process.pid)/task/\(process.pid)/children", encoding: .utf8)
        let vmm = try #require(children.split(separator: " ").first.flatMap { Int32($0) })
        kill(vmm, SIGTERM)
        let (status, _) = process.waitForExit(timeoutSeconds: 60)
        #expect(status == 7, "forced stop: \(process.standardError.text)")
        let lines = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
        // The signal thread takes SIGTERM with sigwait (rt_sigtimedwait returns 15).
        let signal = try #require(
            lines.firstIndex { $0.contains("rt_sigtimedwait") && $0.contains("= 15") }, "\(lines)")
        let exit = try #require(lines.lastIndex { $0.contains("exit_group") })
        let flush = lines.indices.first { $0 > signal && lines[$0].contains("fdatasync(") && lines[$0].contains("= 0") }
        #expect(flush != nil && flush! < exit, "fdatasync after SIGTERM and before exit: \(lines)")
    }

    private static func mount(_ arguments: [String], program: String = "mount") throws -> Int32 {
        let process = try RunningProcess(
            executable: URL(fileURLWithPath: try HostTool.require(program, package: "mount")), arguments: arguments)
        return process.waitForExit(timeoutSeconds: 30).status
    }
}
