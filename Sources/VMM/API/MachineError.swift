@_spi(ExitPath) import Devices
import EventLoop
import GuestMemory
@_spi(ExitPath) import KVM
import Threads

#if canImport(Glibc)
    import Glibc
#endif

/// A failed system call behind an error: the operation and its errno.
public struct SystemCause: Sendable, Equatable, CustomStringConvertible {
    /// What was attempted, such as `ioctl(KVM_CREATE_VM)` or `open(/dev/kvm)`.
    public let operation: String
    /// The errno it failed with.
    public let errno: Int32

    /// The cause: `operation` failed with `errno`.
    public init(operation: String, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }

    /// The calling thread's current errno for `operation`.
    static func errno(_ operation: String) -> SystemCause { SystemCause(operation: operation, errno: Glibc.errno) }

    public var description: String { "\(operation): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// The one error type of SwiftVMM's public API: a code, a one-line message that names the field
/// or resource, the bad value and what to do, and (where a system call failed) its cause.
public struct MachineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure it is; each maps to a process exit status (`exitStatus`).
    public enum Code: String, Sendable, Equatable, CaseIterable {
        /// A configuration field (or command-line flag) has a value outside what it accepts.
        case invalidValue
        /// A configuration file is not valid JSON for a `VirtualMachineConfiguration`.
        case malformedConfigurationFile
        /// A file named by a field cannot be read (or written).
        case fileUnreadable
        /// The boot image is in a format this build does not boot, or is malformed.
        case unsupportedBootImage
        /// The value is valid but more than this host offers.
        case exceedsHost
        /// Another process holds a conflicting lock on a disk image.
        case fileLocked
        /// The host refused a network resource (no /dev/net/tun, no CAP_NET_ADMIN).
        case networkUnavailable
        /// The host's KVM cannot run machines (no /dev/kvm, wrong API version, missing capability).
        case hostUnsupported
        /// Setting the machine up failed in the host (a KVM ioctl, memory, a thread).
        case setupFailed
        /// The call is not allowed in the machine's current state (e.g. `pause()` before `start()`).
        case invalidState
        /// The task waiting in the call was cancelled.
        case cancelled
        /// A disk's path is neither a regular file nor a block device (a directory, a socket).
        case diskWrongType
        /// A disk is smaller than its declared size (`size_mib`, `create_size_mib`).
        case diskTooSmall
        /// A writable disk is on a read-only file system (a read-only volume mount).
        case diskReadOnlyMount
    }

    /// What kind of failure it is.
    public let code: Code
    /// The configuration field or resource it concerns (`memory_mib`, `disks[0]`, `console`), if any.
    public let field: String?
    /// One line: the field or resource, the bad value and what to do.
    public let message: String
    /// The system call that failed, if one did.
    public let cause: SystemCause?

    /// An error with `code` and `message` (which should name `field` when there is one).
    public init(code: Code, field: String? = nil, message: String, cause: SystemCause? = nil) {
        self.code = code
        self.field = field
        self.message = message
        self.cause = cause
    }

    /// The message, followed by the cause unless the message already names its operation or
    /// its errno.
    public var description: String {
        guard let cause, !message.contains(cause.operation), !message.contains("(errno \(cause.errno))") else {
            return message
        }
        return "\(message) (\(cause))"
    }

    /// The process exit status for this error (see `ExitStatus`).
    public var exitStatus: Int32 {
        switch code {
        case .invalidValue, .malformedConfigurationFile, .invalidState: return ExitStatus.invalidArgument
        case .fileUnreadable: return ExitStatus.unreadableFile
        case .unsupportedBootImage: return ExitStatus.unsupportedBootImage
        case .exceedsHost: return ExitStatus.exceedsHost
        case .fileLocked: return ExitStatus.resourceBusy
        case .networkUnavailable: return ExitStatus.networkUnavailable
        case .hostUnsupported: return ExitStatus.hostUnsupported
        case .setupFailed, .cancelled: return ExitStatus.vmmError
        case .diskWrongType: return ExitStatus.diskWrongType
        case .diskTooSmall: return ExitStatus.diskTooSmall
        case .diskReadOnlyMount: return ExitStatus.diskReadOnlyMount
        }
    }
}

// MARK: - The configuration errors, by kind

extension MachineError {
    /// `field` has `value`, which it does not accept; `expected` says what it does.
    public static func invalidValue(field: String, value: String, expected: String) -> MachineError {
        MachineError(
            code: .invalidValue, field: field, message: "\(field): '\(value)' is not valid; expected \(expected)")
    }

    /// The file at `path`, named by `field`, cannot be read (or written); `cause` is the system
    /// call that failed, if one did.
    public static func fileUnreadable(field: String, path: String, reason: String, cause: SystemCause? = nil)
        -> MachineError
    {
        MachineError(
            code: .fileUnreadable, field: field, message: "\(field): cannot read '\(path)': \(reason)", cause: cause)
    }

    /// The boot image at `path`, named by `field`, is not one this build boots.
    public static func unsupportedBootImage(field: String, path: String, reason: String) -> MachineError {
        MachineError(code: .unsupportedBootImage, field: field, message: "\(field): '\(path)' \(reason)")
    }

    /// `field`'s `value` is more than this host's `limit`.
    public static func exceedsHost(field: String, value: String, limit: String) -> MachineError {
        MachineError(
            code: .exceedsHost, field: field,
            message: "\(field): \(value) exceeds this host's limit of \(limit); lower it")
    }

    /// Another process holds a lock on the disk image at `path`.
    public static func fileLocked(field: String, path: String, reason: String) -> MachineError {
        MachineError(code: .fileLocked, field: field, message: "\(field): '\(path)' is in use: \(reason)")
    }

    /// The host refused the network resource `field` names; `cause` is the system call that
    /// failed, if one did.
    public static func networkUnavailable(field: String, reason: String, cause: SystemCause? = nil) -> MachineError {
        MachineError(code: .networkUnavailable, field: field, message: "\(field): \(reason)", cause: cause)
    }

    /// The configuration file at `path` is not a valid configuration.
    public static func malformedConfigurationFile(path: String, reason: String) -> MachineError {
        MachineError(
            code: .malformedConfigurationFile, field: "config",
            message: "config: '\(path)' is not a valid configuration: \(reason)")
    }

    /// The host's KVM cannot run machines.
    public static func hostUnsupported(_ message: String, cause: SystemCause? = nil) -> MachineError {
        MachineError(code: .hostUnsupported, field: "kvm", message: message, cause: cause)
    }

    /// Setting up `resource` failed in the host.
    static func setupFailed(_ resource: String, _ what: String, cause: SystemCause? = nil) -> MachineError {
        MachineError(code: .setupFailed, field: resource, message: "\(resource): \(what)", cause: cause)
    }

    /// `operation` is not allowed while the machine is `state`.
    static func invalidState(_ operation: String, _ state: MachineState, _ advice: String) -> MachineError {
        MachineError(
            code: .invalidState, field: "state",
            message: "\(operation): not allowed while the machine is \(state); \(advice)")
    }
}

// MARK: - From the lower layers' errors, keeping the cause

extension MachineError {
    static func from(_ error: KVMError, resource: String = "kvm") -> MachineError {
        switch error {
        case .deviceUnavailable(let path, let code):
            return .hostUnsupported(
                "\(resource): \(error.description)", cause: SystemCause(operation: "open(\(path))", errno: code))
        case .unsupportedAPIVersion, .missingCapability:
            return .hostUnsupported("\(resource): \(error.description)")
        case .ioctlFailed(let name, let code), .systemCallFailed(let name, let code):
            return .setupFailed(resource, error.description, cause: SystemCause(operation: name, errno: code))
        case .invalidArgument:
            return .setupFailed(resource, error.description)
        }
    }

    static func from(_ error: GuestMemoryError) -> MachineError {
        switch error {
        case .allocationFailed(let bytes, let code):
            return MachineError(
                code: .exceedsHost, field: "memory_mib",
                message: "memory_mib: the host refused \(bytes >> 20) MiB of guest memory; lower memory_mib",
                cause: SystemCause(operation: "mmap(\(bytes) bytes)", errno: code))
        case .hugePagesUnavailable(let bytes, let code):
            return MachineError(
                code: .exceedsHost, field: "memory_backing", message: "memory_backing hugetlbfs: \(error.description)",
                cause: SystemCause(operation: "mmap(\(bytes) bytes, MFD_HUGETLB)", errno: code))
        case .prefaultFailed(let bytes, let code):
            return MachineError(
                code: .exceedsHost, field: "memory_prefault", message: "memory_prefault: \(error.description)",
                cause: SystemCause(operation: "madvise(\(bytes) bytes, MADV_POPULATE_WRITE)", errno: code))
        case .outOfBounds, .misaligned, .invalidLayout:
            return .setupFailed("guest memory", error.description)
        }
    }

    static func from(_ error: BusError) -> MachineError {
        .invalidValue(field: "probes", value: error.description, expected: "ranges that do not overlap")
    }

    static func from(_ error: EventLoopError, resource: String) -> MachineError {
        switch error {
        case .systemCallFailed(let name, let code):
            return .setupFailed(resource, error.description, cause: SystemCause(operation: name, errno: code))
        }
    }

    static func from(_ error: ThreadError) -> MachineError {
        .setupFailed("threads", error.description, cause: SystemCause(operation: error.operation, errno: error.errno))
    }
}
