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
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw .fileUnreadable(field: field, path: path, reason: errnoText(errno)) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .fileUnreadable(field: field, path: path, reason: errnoText(errno)) }
        guard status.st_mode & S_IFMT == S_IFREG else {
            let kind = status.st_mode & S_IFMT == S_IFDIR ? "it is a directory" : "it is not a regular file"
            throw .fileUnreadable(field: field, path: path, reason: kind)
        }
        // A regular file reads the same with or without O_NONBLOCK; cleared all the same.
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 else {
            throw .fileUnreadable(field: field, path: path, reason: errnoText(errno))
        }
        let size = Int(status.st_size)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        while bytes.count < size {
            switch DescriptorIO.read(fd, maximumCount: min(size - bytes.count, 1 << 24)) {
            case .success(let chunk) where !chunk.isEmpty: bytes += chunk
            case .success: throw .fileUnreadable(field: field, path: path, reason: "the file ended early")
            case .failure(let error): throw .fileUnreadable(field: field, path: path, reason: errnoText(error.errno))
            }
        }
        return bytes
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
