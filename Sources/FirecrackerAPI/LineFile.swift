import VMM

#if canImport(Glibc)
    import Glibc
#endif

/// The files (or named pipes) the API's log and metrics lines are appended to.
enum LineFile {
    /// Opens `path` for appending (`HostOutputFile`: not through a symbolic link, without
    /// blocking — a named pipe needs its reader already —, created owner-only when missing, a
    /// regular file, character device or named pipe): the descriptor, or why not (one line).
    static func open(_ path: String) -> Result<Int32, LineFileError> {
        HostOutputFile.openForAppending(path).mapError { LineFileError(reason: $0.reason) }
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
