import Foundation
import Testing

/// Host paths as hostile input, through the real binary: files the VMM writes or creates are not
/// opened through links, never block, and are created owner-only; files it reads are judged by
/// what was opened, without blocking on a named pipe.
@Suite(.serialized, .enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
struct HostFileTests {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftvmm-hostfiles-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// A named pipe in the scratch directory.
    func fifo(_ name: String) throws -> String {
        let path = "\(directory)/\(name)"
        try #require(mkfifo(path, 0o600) == 0)
        return path
    }

    /// The permission bits of `path`.
    func mode(_ path: String) -> mode_t {
        var status = stat()
        return lstat(path, &status) == 0 ? status.st_mode & 0o777 : 0
    }

    /// Runs swiftvmm and expects `status` within 20 s (a hang is killed and reported) with one
    /// stderr line holding each of `words`.
    func expectOneLineError(_ arguments: [String], status: Int32, mentioning words: [String]) throws {
        let result = try SwiftVMMBinary.run(arguments, timeoutSeconds: 20)
        #expect(result.status == status, "\(arguments): \(result.standardError)")
        #expect(result.errorLines.count == 1, "one line: \(result.standardError)")
        for word in words { #expect(result.standardError.contains(word), "'\(word)' in \(result.standardError)") }
    }

    @Test func aSymlinkedConsoleIsRefusedAndItsTargetIsUntouched() throws {
        let target = "\(directory)/target.txt"
        try Data("keep".utf8).write(to: URL(fileURLWithPath: target))
        let link = "\(directory)/console.log"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        try expectOneLineError(
            ["run", "--console", "file=\(link)", "--cmdline", "fw.exit=0"], status: 11,
            mentioning: ["console", link, "symbolic link"])
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "keep")
        // A link to a file that does not exist yet: not created through the link.
        let dangling = "\(directory)/dangling.log"
        try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: "\(directory)/created.txt")
        try expectOneLineError(
            ["run", "--console", "file=\(dangling)", "--cmdline", "fw.exit=0"], status: 11,
            mentioning: ["console", "symbolic link"])
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/created.txt"))
    }

    @Test func aCreatedConsoleFileAndImageAreOwnerOnly() throws {
        let console = "\(directory)/console.log"
        let image = "\(directory)/disk.img"
        let result = try SwiftVMMBinary.run(
            ["run", "--console", "file=\(console)", "--disk", "path=\(image),create_size_mib=1"], timeoutSeconds: 60)
        #expect(result.status == 0, "\(result.standardError)")
        #expect(mode(console) == 0o600, "console file mode \(String(mode(console), radix: 8))")
        #expect(mode(image) == 0o600, "image mode \(String(mode(image), radix: 8))")
    }

    /// A console FIFO without a reader fails the run at once with one line (status 11): the VMM
    /// opens it without blocking; with a reader attached, the console flows through it.
    @Test func aConsoleFIFONeedsAReaderAndNeverBlocks() throws {
        let pipe = try fifo("console.fifo")
        try expectOneLineError(
            ["run", "--console", "file=\(pipe)", "--cmdline", "fw.exit=0"], status: 11,
            mentioning: ["console", pipe, "no reader"])
        let reader = try RunningProcess(executable: URL(fileURLWithPath: "/bin/cat"), arguments: [pipe])
        // cat blocks in open until the VMM opens the other end; wait until it is in there.
        #expect(waitFor(5) { (try? String(contentsOfFile: "/proc/\(reader.pid)/wchan", encoding: .utf8)) != nil })
        Thread.sleep(forTimeInterval: 0.2)
        let result = try SwiftVMMBinary.run(["run", "--console", "file=\(pipe)"], timeoutSeconds: 60)
        #expect(result.status == 0, "\(result.standardError)")
        #expect(reader.waitForExit(timeoutSeconds: 10).status == 0)
        #expect(firmwareLines(reader.standardOutput.text).last == "fw: powering off")
    }

    @Test func aConsoleThatIsADirectoryIsRefused() throws {
        try expectOneLineError(
            ["run", "--console", "file=\(directory)", "--cmdline", "fw.exit=0"], status: 11,
            mentioning: ["console", "directory"])
    }

    /// Inputs are opened without blocking and judged by what was opened: a named pipe as the
    /// kernel, the initrd or a disk is refused at once (the kernel's open used to block forever).
    @Test func aFIFOAsKernelInitrdOrDiskIsRefusedAtOnce() throws {
        let pipe = try fifo("input.fifo")
        try expectOneLineError(["run", "--kernel", pipe], status: 11, mentioning: ["kernel", pipe, "regular file"])
        try expectOneLineError(
            ["run", "--firmware", pipe], status: 11, mentioning: ["firmware", pipe, "regular file"])
        try expectOneLineError(
            ["run", "--disk", "path=\(pipe)"], status: 19, mentioning: ["disks[0]", pipe, "block device"])
    }
}
