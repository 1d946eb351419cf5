import EventLoop

#if canImport(Glibc)
    import Glibc
#endif

/// Reading the files a configuration names, with errors that name the field and the file.
package enum HostFile {
    /// Reads the whole regular file at `path` (links followed). It is opened without blocking
    /// (a named pipe at the path must not hold the VMM), then judged by fstat on the open
    /// descriptor — never by a stat of the path, which another file could answer.
    package static func read(path: String, field: String) throws(MachineError) -> [UInt8] {
        try BootFile.open(path: path, field: field).readAll()
    }

    /// Reads a text file such as /proc/meminfo (size unknown in advance).
    static func readText(path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var result: [UInt8] = []
        while case .success(let chunk) = DescriptorIO.read(fd, maximumCount: 4096), !chunk.isEmpty {
            result += chunk
        }
        return String(decoding: result, as: UTF8.self)
    }
}

/// A regular file a configuration names (a kernel, an initrd, firmware), opened once and read
/// in full by each machine built from it: a reboot in place reads it again through the same
/// descriptor (the guest may have been given a new kernel at the same path only by replacing the
/// file's contents), without opening anything.
final class BootFile: Sendable {
    let path: String
    let field: String
    private let descriptor: Int32

    private init(path: String, field: String, descriptor: Int32) {
        self.path = path
        self.field = field
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Opens `path` for reading (links followed); it must be a regular file. It is opened
    /// without blocking (a named pipe at the path must not hold the VMM), then judged by fstat
    /// on the open descriptor — never by a stat of the path, which another file could answer.
    static func open(path: String, field: String) throws(MachineError) -> BootFile {
        let fd = Glibc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            throw .fileUnreadable(
                field: field, path: path, reason: errnoText(errno), cause: .errno("open(\(path))"))
        }
        let file = BootFile(path: path, field: field, descriptor: fd)
        _ = try file.size()
        // A regular file reads the same with or without O_NONBLOCK; cleared all the same.
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 else {
            throw .fileUnreadable(field: field, path: path, reason: errnoText(errno), cause: .errno("fcntl(F_SETFL)"))
        }
        return file
    }

    /// The file's size now; it must still be a regular file.
    private func size() throws(MachineError) -> Int {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw .fileUnreadable(field: field, path: path, reason: errnoText(errno), cause: .errno("fstat"))
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            let kind = status.st_mode & S_IFMT == S_IFDIR ? "it is a directory" : "it is not a regular file"
            throw .fileUnreadable(field: field, path: path, reason: kind)
        }
        guard let size = Int(exactly: status.st_size), size >= 0 else {
            throw .fileUnreadable(field: field, path: path, reason: "its size \(status.st_size) cannot be read")
        }
        return size
    }

    /// The whole file, from its start.
    func readAll() throws(MachineError) -> [UInt8] {
        let size = try size()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        while bytes.count < size {
            switch DescriptorIO.read(
                descriptor, maximumCount: min(size - bytes.count, 1 << 24), at: UInt64(bytes.count))
            {
            case .success(let chunk) where !chunk.isEmpty: bytes += chunk
            case .success: throw .fileUnreadable(field: field, path: path, reason: "the file ended early")
            case .failure(let error):
                throw .fileUnreadable(
                    field: field, path: path, reason: errnoText(error.errno),
                    cause: SystemCause(operation: "pread(\(path))", errno: error.errno))
            }
        }
        return bytes
    }
}

extension HostLimits {
    /// MemTotal from /proc/meminfo (0 when it cannot be read).
    static func hostMemoryBytes() -> UInt64 {
        guard let text = HostFile.readText(path: "/proc/meminfo") else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("MemTotal:") {
            let fields = line.split(separator: " ")
            if fields.count >= 2, let kibibytes = UInt64(fields[1]) { return kibibytes * 1024 }
        }
        return 0
    }
}
