#if canImport(Glibc)
    import Glibc
#endif

/// Opening the files the VMM writes to — the console file, Firecracker's log and metrics files —
/// whose paths come from a configuration or an API client and are treated as hostile:
/// - never through a symbolic link (O_NOFOLLOW: a link planted at the path cannot make the VMM
///   append to, or create, the file it points at);
/// - never blocking (O_NONBLOCK: a named pipe without a reader fails at once with ENXIO instead
///   of holding the build; writers must then cope with EAGAIN on a full pipe);
/// - created owner-only (0600: the guest's console may hold secrets);
/// - only a regular file, a character device (such as /dev/null) or a named pipe, checked with
///   fstat on the open descriptor (a directory, a socket or a block device is refused).
package enum HostOutputFile {
    /// Opens `path` for appending as above: the descriptor (O_NONBLOCK stays set), or one line
    /// saying what the path is and what to give instead.
    package static func openForAppending(_ path: String) -> Result<Int32, HostOutputFileError> {
        let flags = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC
        let descriptor = open(path, flags, 0o600)
        guard descriptor >= 0 else { return .failure(HostOutputFileError(openFailedAt: path, errno: errno)) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let code = errno
            close(descriptor)
            return .failure(
                HostOutputFileError(reason: errnoText(code), cause: SystemCause(operation: "fstat", errno: code)))
        }
        switch status.st_mode & S_IFMT {
        case S_IFREG, S_IFCHR, S_IFIFO:
            return .success(descriptor)
        default:
            close(descriptor)
            return .failure(
                HostOutputFileError(reason: "it is \(kindName(status.st_mode)); \(HostOutputFileError.advice)"))
        }
    }

    /// "a directory", "a socket", ... for messages.
    static func kindName(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a directory"
        case S_IFSOCK: return "a socket"
        case S_IFBLK: return "a block device"
        case S_IFLNK: return "a symbolic link"
        case S_IFIFO: return "a named pipe"
        case S_IFCHR: return "a character device"
        default: return "not a regular file"
        }
    }
}

/// Why an output file could not be opened: one line (no path: the caller names the field and
/// the path).
package struct HostOutputFileError: Error, Sendable, Equatable, CustomStringConvertible {
    package var reason: String
    /// The system call that failed, if one did.
    package var cause: SystemCause?

    package init(reason: String, cause: SystemCause? = nil) {
        self.reason = reason
        self.cause = cause
    }

    /// What to give instead of a file of the wrong kind.
    static let advice = "give a regular file, a character device such as /dev/null, or a named pipe with a reader"

    /// The reason for a failed open of `path` with `code`; the path is looked at again (lstat,
    /// without following a link) only to say what it is.
    init(openFailedAt path: String, errno code: Int32) {
        cause = SystemCause(operation: "open(\(path))", errno: code)
        var status = stat()
        let kind = lstat(path, &status) == 0 ? status.st_mode & S_IFMT : 0
        switch code {
        case ELOOP where kind == S_IFLNK:
            reason = "it is a symbolic link, which is not followed for a file the VMM writes; give the file itself"
        case ENXIO where kind == S_IFIFO:
            reason =
                "it is a named pipe with no reader (opened without blocking); start its reader first "
                + "(e.g. cat \(path)), or give a regular file"
        case ENXIO where kind == S_IFSOCK, EISDIR:
            reason = "it is \(HostOutputFile.kindName(kind)); \(Self.advice)"
        default:
            reason = errnoText(code)
        }
    }

    package var description: String { reason }
}
