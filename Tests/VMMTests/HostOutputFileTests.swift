import Foundation
import Testing
import VMM

/// `HostOutputFile`: how the VMM opens the console file and Firecracker's log and metrics files.
@Suite struct HostOutputFileTests {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftvmm-output-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// Opens `path`; the reason on failure, nil on success (the descriptor is closed).
    func failure(_ path: String) -> String? {
        switch HostOutputFile.openForAppending(path) {
        case .success(let descriptor):
            close(descriptor)
            return nil
        case .failure(let error):
            return error.reason
        }
    }

    @Test func aNewFileIsCreatedOwnerOnlyAndAnExistingOneAppended() throws {
        let path = "\(directory)/new.log"
        #expect(failure(path) == nil)
        var status = stat()
        #expect(stat(path, &status) == 0 && status.st_mode & 0o777 == 0o600)
        try Data("a".utf8).write(to: URL(fileURLWithPath: path))
        let descriptor = try HostOutputFile.openForAppending(path).get()
        #expect(write(descriptor, "b", 1) == 1)
        close(descriptor)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "ab")
        #expect(failure("/dev/null") == nil, "a character device")
    }

    @Test func aLinkIsNotFollowed() throws {
        let target = "\(directory)/target"
        try Data("keep".utf8).write(to: URL(fileURLWithPath: target))
        try FileManager.default.createSymbolicLink(atPath: "\(directory)/link", withDestinationPath: target)
        #expect(failure("\(directory)/link")?.contains("symbolic link") == true)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "keep")
    }

    @Test func aNamedPipeNeedsAReaderAndNeverBlocks() throws {
        let path = "\(directory)/pipe"
        try #require(mkfifo(path, 0o600) == 0)
        #expect(failure(path)?.contains("no reader") == true)
        let reader = open(path, O_RDONLY | O_NONBLOCK)
        defer { close(reader) }
        #expect(failure(path) == nil, "with a reader it opens")
    }

    @Test func directoriesAndSocketsAreRefused() throws {
        #expect(failure(directory)?.contains("directory") == true)
        let socketPath = "\(directory)/socket"
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { bytes in
            for (index, byte) in socketPath.utf8.enumerated() { bytes[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        try #require(bound == 0)
        #expect(failure(socketPath)?.contains("socket") == true)
    }
}
