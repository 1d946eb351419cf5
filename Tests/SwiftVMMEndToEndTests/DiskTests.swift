import Foundation
import Testing

/// Scratch disk images for one test, removed afterwards.
final class ScratchDisks {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftvmm-disks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    func image(_ name: String, mebibytes: Int, random: Bool = false) throws -> String {
        let url = directory.appendingPathComponent(name)
        var bytes = Data(count: mebibytes << 20)
        if random {
            var generator = SystemRandomNumberGenerator()
            bytes = Data((0..<(mebibytes << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        }
        try bytes.write(to: url)
        return url.path
    }
}

/// The firmware's pattern: word w of sector s of disk i is (s << 16) | (i << 8) | w; the last
/// 8 sectors were zeroed by WRITE_ZEROES.
func patternMismatch(path: String, diskIndex: UInt64) throws -> String? {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    let sectors = data.count / 512
    return data.withUnsafeBytes { raw -> String? in
        for sector in 0..<sectors {
            for word in 0..<64 {
                let value = raw.loadUnaligned(fromByteOffset: sector * 512 + word * 8, as: UInt64.self)
                let expected = sector >= sectors - 8 ? 0 : UInt64(sector) << 16 | diskIndex << 8 | UInt64(word)
                if value != expected { return "sector \(sector) word \(word): \(value) != \(expected)" }
            }
        }
        return nil
    }
}

private func sha256(_ path: String) throws -> String {
    let process = Process()
    process.executableURL = try URL(fileURLWithPath: HostTool.sha256sum)
    process.arguments = [path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    process.waitUntilExit()
    return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        .split(separator: " ").first.map(String.init) ?? ""
}

/// virtio-blk through the binary and the firmware's driver.
@Suite(.serialized, .enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
struct DiskTests {
    @Test func patternIsByteExactInTwoDisksAndAReadOnlyDiskIsUntouched() throws {
        let disks = try ScratchDisks()
        let first = try disks.image("a.img", mebibytes: 4)
        let second = try disks.image("b.img", mebibytes: 16)
        let readOnly = try disks.image("ro.img", mebibytes: 2, random: true)
        let checksum = try sha256(readOnly)
        let result = try SwiftVMMBinary.run([
            "run", "--cpus", "2", "--disk", "path=\(first),serial=disk0", "--disk", "path=\(second),cache=none",
            "--disk", "path=\(readOnly),readonly=on", "--cmdline", "fw.test=blk",
        ])
        #expect(result.status == 0, "stderr: \(result.standardError)")
        let lines = firmwareLines(result.standardOutput)
        for expected in [
            "fw: blk0 id disk0", "fw: blk0 flush ok", "fw: blk0 OK 8192 sectors written and verified",
            "fw: blk1 OK 32768 sectors written and verified", "fw: blk2 capacity 4096 sectors read-only",
            "fw: blk2 read-only ok", "fw: blk OK",
        ] {
            #expect(lines.contains(expected), "\(expected) in \(lines)")
        }
        #expect(try patternMismatch(path: first, diskIndex: 0) == nil)
        #expect(try patternMismatch(path: second, diskIndex: 1) == nil)
        #expect(try sha256(readOnly) == checksum, "the read-only image is unchanged")
    }

    @Test func aLockedImageIsRefusedWhileAnotherVMMHoldsIt() throws {
        let disks = try ScratchDisks()
        let image = try disks.image("shared.img", mebibytes: 1)
        let holder = try RunningProcess(
            executable: SwiftVMMBinary.url,
            arguments: ["run", "--disk", "path=\(image)", "--cmdline", "fw.wait=button"])
        #expect(holder.waitForOutput(containing: "fw: waiting for the power button", timeoutSeconds: 30))
        let writable = try SwiftVMMBinary.run(["run", "--disk", "path=\(image)"])
        #expect(writable.status == 14)
        #expect(writable.errorLines.count == 1 && writable.standardError.contains(image))
        let readOnly = try SwiftVMMBinary.run(["run", "--disk", "path=\(image),readonly=on"])
        #expect(readOnly.status == 14, "a shared lock conflicts with the holder's exclusive one")
        holder.send(SIGTERM)
        #expect(holder.waitForExit(timeoutSeconds: 30).status == 0)
        let afterwards = try SwiftVMMBinary.run(["run", "--disk", "path=\(image)"])
        #expect(afterwards.status == 0, "free again once the holder ended")
    }

    @Test func readOnlyDisksShareTheirLock() throws {
        let disks = try ScratchDisks()
        let image = try disks.image("shared-ro.img", mebibytes: 1)
        let holder = try RunningProcess(
            executable: SwiftVMMBinary.url,
            arguments: ["run", "--disk", "path=\(image),readonly=on", "--cmdline", "fw.wait=button"])
        #expect(holder.waitForOutput(containing: "fw: waiting for the power button", timeoutSeconds: 30))
        #expect(try SwiftVMMBinary.run(["run", "--disk", "path=\(image),readonly=on"]).status == 0)
        #expect(try SwiftVMMBinary.run(["run", "--disk", "path=\(image)"]).status == 14)
        holder.send(SIGTERM)
        _ = holder.waitForExit(timeoutSeconds: 30)
    }

    @Test func badDiskOptionsAreOneLineErrors() throws {
        let disks = try ScratchDisks()
        let image = try disks.image("x.img", mebibytes: 1)
        for (arguments, status, word) in [
            (["--disk", "path=/nonexistent.img"], Int32(11), "No such file"),
            (["--disk", "path=\(disks.directory.path)"], 19, "neither a regular file nor a block device"),
            (["--disk", "path=/dev/null"], 19, "neither a regular file nor a block device"),
            (["--disk", "path=\(image),size_mib=2"], 20, "less than the declared 2 MiB"),
            (["--disk", "path=\(image),create_size_mib=4"], 20, "less than the declared 4 MiB"),
            (["--disk", "path=\(disks.directory.path)/none/new.img,create_size_mib=4"], 11, "cannot create"),
            (["--disk", "path=\(image),size_mib=0"], 10, "size_mib"),
            (["--disk", "path=\(image),readonly=on,create_size_mib=1"], 10, "create_size_mib"),
            (["--disk", "path=\(image),readonly=maybe"], 10, "readonly"),
            (["--disk", "path=\(image),cache=fast"], 10, "cache"),
            (["--disk", "path=\(image),speed=1"], 10, "speed"),
            (["--disk", "readonly=on"], 10, "path=PATH"),
        ] {
            let result = try SwiftVMMBinary.run(["run"] + arguments)
            #expect(result.status == status, "\(arguments): \(result.standardError)")
            #expect(result.errorLines.count == 1 && result.standardError.contains(word), "\(arguments)")
        }
    }

    /// On the I/O thread (sync) and on the worker threads (threads, seen with strace -f); io_uring's
    /// reads and writes do not pass through system calls strace sees (VirtioBlockEngineTests and
    /// the firmware's fw.blk-flush-behind check that engine's order).
    @Test(arguments: ["sync", "threads"])
    func flushReturnsOnlyAfterFdatasync(aio: String) throws {
        let strace = try HostTool.strace
        let disks = try ScratchDisks()
        let image = try disks.image("flush.img", mebibytes: 1)
        let trace = disks.directory.appendingPathComponent("strace.txt").path
        let process = try RunningProcess(
            executable: URL(fileURLWithPath: strace),
            arguments: [
                "-f", "-s", "65536", "-e", "trace=fdatasync,pwritev,write", "-e", "signal=none", "-o", trace,
                SwiftVMMBinary.url.path,
                "run",
                "--disk", "path=\(image),aio=\(aio)", "--cmdline", "fw.test=blk fw.blk-mib=1",
            ])
        let (status, _) = process.waitForExit(timeoutSeconds: 120)
        #expect(status == 0, "stderr: \(process.standardError.text)")
        let lines = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n").map(String.init)
        let firstWrite = lines.firstIndex { $0.contains("pwritev(") }
        let fdatasyncDone = lines.firstIndex { $0.contains("fdatasync") && $0.contains("= 0") }
        // The console thread writes what the serial port gathered in chunks: rebuild the console,
        // remembering which trace line each byte came from, to find where "flush ok" was printed.
        var console = ""
        var lineOfCharacter: [Int] = []
        for (index, line) in lines.enumerated() {
            guard let start = line.range(of: "write(1, \""), let end = line.range(of: "\", ", options: .backwards),
                start.upperBound <= end.lowerBound
            else { continue }
            var text = String(line[start.upperBound..<end.lowerBound])
            text = text.replacingOccurrences(of: "\\n", with: "\n")
            for character in text {
                console.append(character)
                lineOfCharacter.append(index)
            }
        }
        let flushReported = console.range(of: "flush ok").map {
            lineOfCharacter[console.distance(from: console.startIndex, to: $0.lowerBound)]
        }
        #expect(firstWrite != nil, "guest data went straight to the file with pwritev")
        #expect(fdatasyncDone != nil && flushReported != nil)
        if let firstWrite, let fdatasyncDone, let flushReported {
            #expect(
                firstWrite < fdatasyncDone && fdatasyncDone < flushReported,
                "write, then fdatasync returned, then the guest saw the flush complete")
        }
    }
}
