#if canImport(Glibc)
    import Glibc
#endif

/// An error from the KVM layer. Every case names what failed; ioctl failures carry the ioctl
/// name and the errno.
package enum KVMError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `/dev/kvm` could not be opened.
    case deviceUnavailable(path: String, errno: Int32)
    /// The kernel's KVM API version is not the one this VMM speaks (12).
    case unsupportedAPIVersion(found: Int32)
    /// A KVM capability the VMM relies on is missing.
    case missingCapability(name: String)
    /// An ioctl failed.
    case ioctlFailed(name: String, errno: Int32)
    /// A system call other than an ioctl failed.
    case systemCallFailed(name: String, errno: Int32)
    /// A value the caller passed is outside what KVM accepts.
    case invalidArgument(String)

    package var description: String {
        switch self {
        case .deviceUnavailable(let path, let errno):
            return "cannot open \(path): \(errnoDescription(errno)); check that the kvm module is loaded"
                + " and that this user may read and write \(path)"
        case .unsupportedAPIVersion(let found):
            return "KVM API version \(found) is not supported (need 12); use a newer host kernel"
        case .missingCapability(let name):
            return "the host's KVM lacks capability \(name), which SwiftVMM needs; use a newer host kernel"
        case .ioctlFailed(let name, let errno):
            return "ioctl \(name) failed: \(errnoDescription(errno))"
        case .systemCallFailed(let name, let errno):
            return "\(name) failed: \(errnoDescription(errno))"
        case .invalidArgument(let text):
            return text
        }
    }
}

/// `strerror` text plus the symbolic errno value, e.g. "Operation not permitted (errno 1)".
package func errnoDescription(_ code: Int32) -> String {
    // SAFETY: strerror returns a pointer to a static or thread-local NUL-terminated string.
    let text = String(cString: strerror(code))
    return "\(text) (errno \(code))"
}

/// Retries a system call while it fails with EINTR; returns its result or throws.
@inline(__always)
package func retryingOnInterrupt(_ name: @autoclosure () -> String, _ call: () -> Int32) throws(KVMError) -> Int32 {
    while true {
        let result = call()
        if result >= 0 { return result }
        let code = errno
        if code == EINTR { continue }
        throw .ioctlFailed(name: name(), errno: code)
    }
}
