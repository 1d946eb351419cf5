import Foundation
import Testing

@testable import Devices

/// Disk paths as hostile input: judged by what was opened, never blocking on a named pipe;
/// images the VMM creates are owner-only.
@Suite struct FileBlockBackendHostFileTests {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftvmm-blk-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// A named pipe at the path is refused at once. Should the open block after all, the test
    /// opens the pipe's other end after 5 s (which lets the open return) and fails.
    @Test(arguments: [false, true])
    func aNamedPipeIsRefusedWithoutBlocking(readOnly: Bool) throws {
        let path = "\(directory)/pipe-\(readOnly)"
        try #require(mkfifo(path, 0o600) == 0)
        let done = DispatchSemaphore(value: 0)
        let result = ResultBox()
        Thread.detachNewThread {
            do {
                _ = try FileBlockBackend(path: path, readOnly: readOnly, directIO: false)
                result.set(nil)
            } catch {
                result.set(error)
            }
            done.signal()
        }
        if done.wait(timeout: .now() + 5) == .timedOut {
            let writer = open(path, O_WRONLY | O_NONBLOCK)
            done.wait()
            close(writer)
            Issue.record("opening a named pipe as a disk blocked")
        }
        #expect(result.error == .notADisk(path: path))
    }

    @Test func aCreatedImageIsOwnerOnly() throws {
        let path = "\(directory)/new.img"
        #expect(try FileBlockBackend.createSparseImage(path: path, bytes: 1 << 20))
        var status = stat()
        #expect(stat(path, &status) == 0 && status.st_mode & 0o777 == 0o600 && status.st_size == 1 << 20)
    }

    /// A refreshed size below the declared one is refused and leaves the capacity alone.
    @Test func aRefreshBelowTheDeclaredSizeIsRefused() throws {
        let path = "\(directory)/disk.img"
        #expect(try FileBlockBackend.createSparseImage(path: path, bytes: 2 << 20))
        let backend = try FileBlockBackend(path: path, readOnly: false, directIO: false, declaredBytes: 2 << 20)
        #expect(truncate(path, 1 << 20) == 0)
        #expect(throws: BlockBackendError.smallerThanDeclared(path: path, bytes: 1 << 20, declaredBytes: 2 << 20)) {
            try backend.refreshCapacity(declaredBytes: 2 << 20)
        }
        #expect(backend.capacityBytes == 2 << 20)
    }
}

/// The outcome of a background open.
private final class ResultBox: @unchecked Sendable {
    // SAFETY (@unchecked Sendable): written once before the semaphore is signalled, read after.
    private(set) var error: BlockBackendError?
    func set(_ error: (any Error)?) { self.error = error as? BlockBackendError }
}
