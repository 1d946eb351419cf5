import Foundation

/// A temporary directory for one test's images and files, removed when released.
public final class ScratchDirectory: @unchecked Sendable {
    // SAFETY (@unchecked Sendable): `path` is immutable; the files are the test's own.
    public let path: String

    /// Makes `<tmp>/<prefix>-<uuid>`.
    public init(_ prefix: String = "swiftvmm-test") throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// The path of `name` inside.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Creates `name` as a sparse image of `bytes` zero bytes (or with `contents`); its path.
    @discardableResult
    public func image(_ name: String = "disk.img", bytes: Int = 0, contents: [UInt8]? = nil) throws -> String {
        let path = file(name)
        guard FileManager.default.createFile(atPath: path, contents: contents.map { Data($0) }) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        if contents == nil, bytes > 0 {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try handle.truncate(atOffset: UInt64(bytes))
            try handle.close()
        }
        return path
    }
}
