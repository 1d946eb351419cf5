#if canImport(Glibc)
    import Glibc
#endif

/// The files (or named pipes) the API's log and metrics lines are appended to.
enum LineFile {
    /// Opens `path` for appending, created owner-only when missing (a named pipe without
    /// blocking): the descriptor, or why not (strerror).
    static func open(_ path: String) -> Result<Int32, LineFileError> {
        let descriptor = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return .failure(LineFileError(reason: String(cString: strerror(errno)))) }
        return .success(descriptor)
    }

    /// Appends `line` with one write(2): a short or failed write (a full pipe) drops the line
    /// rather than blocking the VMM.
    static func append(_ line: [UInt8], to descriptor: Int32) {
        // SAFETY: write(2) reads at most `count` bytes of the array's own storage during the call.
        _ = line.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
    }
}

/// Why a line file could not be opened.
struct LineFileError: Error {
    var reason: String
}
