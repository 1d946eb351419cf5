#if canImport(Glibc)
    import Glibc
#endif

/// Reading the files a configuration names, with errors that name the field and the file.
enum HostFile {
    /// Reads the whole regular file at `path`.
    static func read(path: String, field: String) throws(ConfigurationError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .fileUnreadable(field: field, path: path, reason: errnoText(errno)) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .fileUnreadable(field: field, path: path, reason: errnoText(errno)) }
        guard status.st_mode & S_IFMT == S_IFREG else {
            let kind = status.st_mode & S_IFMT == S_IFDIR ? "it is a directory" : "it is not a regular file"
            throw .fileUnreadable(field: field, path: path, reason: kind)
        }
        var bytes = [UInt8](repeating: 0, count: Int(status.st_size))
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeMutableBytes { buffer in
                // SAFETY: reads at most the remaining bytes into the array's own storage.
                Glibc.read(fd, buffer.baseAddress! + done, buffer.count - done)
            }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                let reason = count == 0 ? "the file ended early" : errnoText(errno)
                throw .fileUnreadable(field: field, path: path, reason: reason)
            }
            done += count
        }
        return bytes
    }

    /// Reads a text file such as /proc/meminfo (size unknown in advance).
    static func readText(path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            // SAFETY: read(2) writes at most `count` bytes into the chunk's own storage during the call.
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            result += chunk[0..<count]
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
