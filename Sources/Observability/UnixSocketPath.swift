import VMM

#if canImport(Glibc)
    import Glibc
#endif

/// The file of a unix socket a server is about to bind.
package enum UnixSocketPath {
    /// Makes `path` usable for a new socket: its directory is created (owner only) when missing;
    /// a leftover socket nobody listens on is removed; one in use, or any other file, is an error
    /// (never someone else's socket unlinked).
    package static func claim(_ path: String, field: String) throws(MachineError) {
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            let directory = String(path[..<slash])
            if access(directory, F_OK) != 0, mkdir(directory, 0o700) != 0, errno != EEXIST {
                throw MachineError(
                    code: .networkUnavailable, field: field,
                    message: "\(field): cannot create the directory of '\(path)': \(String(cString: strerror(errno)))")
            }
        }
        var status = stat()
        guard lstat(path, &status) == 0 else { return }
        guard status.st_mode & S_IFMT == S_IFSOCK else {
            throw MachineError(
                code: .networkUnavailable, field: field,
                message: "\(field): '\(path)' exists and is not a socket; remove it or choose another path")
        }
        if hasListener(path) {
            throw MachineError(
                code: .networkUnavailable, field: field,
                message: "\(field): '\(path)' is in use by another process; stop it or choose another path")
        }
        unlink(path)
    }

    /// A stream socket bound to `path` (claimed first) whose file is owner-only (0600) from the
    /// moment it exists: the socket's mode is set with `fchmod` before `bind`, and Linux creates
    /// the file with the socket's mode (less the umask), so nobody else ever may connect — no
    /// window between `bind` and a `chmod`, and no process-wide `umask`. Close-on-exec, not yet
    /// listening; the caller owns the descriptor.
    package static func bindOwnerOnly(_ path: String, field: String) throws(MachineError) -> Int32 {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw failure("socket", path: path, field: field) }
        guard fchmod(descriptor, 0o600) == 0 else {
            let error = failure("fchmod", path: path, field: field)
            close(descriptor)
            throw error
        }
        let bound = withAddress(of: path) { address, length in bind(descriptor, address, length) == 0 }
        guard bound == true else {
            let error =
                bound == nil
                ? MachineError(
                    code: .networkUnavailable, field: field,
                    message:
                        "\(field): '\(path)' is too long for a unix socket (at most 107 bytes); choose a shorter path")
                : failure("bind", path: path, field: field)
            close(descriptor)
            throw error
        }
        return descriptor
    }

    /// Whether a process accepts connections on the socket at `path`.
    static func hasListener(_ path: String) -> Bool {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        let connected = withAddress(of: path) { address, length in connect(descriptor, address, length) == 0 }
        return connected == true || (connected == false && errno == EAGAIN)
    }

    /// Calls `body` with the `sockaddr_un` of `path` and its length; nil when the path does not
    /// fit in `sun_path`.
    private static func withAddress(
        of path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Bool
    ) -> Bool? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        // SAFETY: the path (shorter than sun_path, checked above) is copied into the tuple's own
        // storage; the rest stays zero, so the name is NUL-terminated.
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: bytes) }
        // SAFETY: the pointer is to the local sockaddr_un, valid during `body` (bind(2) and
        // connect(2) read `size` bytes of it during the call and keep nothing).
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                body($0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }

    /// The error of a failed system call (`errno` read now), naming `path` and `field`.
    private static func failure(_ call: String, path: String, field: String) -> MachineError {
        MachineError(
            code: .networkUnavailable, field: field,
            message: "\(field): cannot listen on unix:\(path): \(call): \(String(cString: strerror(errno))); "
                + "choose another path")
    }
}
