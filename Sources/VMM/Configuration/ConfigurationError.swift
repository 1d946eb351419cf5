/// A problem with what the user asked for. Each names the field, the bad value and what to do.
public enum ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A field has a value outside what it accepts.
    case invalidValue(field: String, value: String, expected: String)
    /// A file named by a field cannot be read.
    case fileUnreadable(field: String, path: String, reason: String)
    /// The boot image named by `field` is in a format this build does not boot, or is malformed.
    case unsupportedBootImage(field: String, path: String, reason: String)
    /// The value is valid but more than this host offers.
    case exceedsHost(field: String, value: String, limit: String)
    /// Another process holds a conflicting lock on a disk image.
    case fileLocked(field: String, path: String, reason: String)
    /// The host refused a network resource: no /dev/net/tun, or no CAP_NET_ADMIN.
    case networkUnavailable(field: String, reason: String)
    /// The configuration file is not valid JSON for a `VirtualMachineConfiguration`.
    case malformedConfigurationFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidValue(let field, let value, let expected):
            return "\(field): '\(value)' is not valid; expected \(expected)"
        case .fileUnreadable(let field, let path, let reason):
            return "\(field): cannot read '\(path)': \(reason)"
        case .networkUnavailable(let field, let reason):
            return "\(field): \(reason)"
        case .fileLocked(let field, let path, let reason):
            return "\(field): '\(path)' is in use: \(reason)"
        case .unsupportedBootImage(let field, let path, let reason):
            return "\(field): '\(path)' \(reason)"
        case .exceedsHost(let field, let value, let limit):
            return "\(field): \(value) exceeds this host's limit of \(limit); lower it"
        case .malformedConfigurationFile(let path, let reason):
            return "config: '\(path)' is not a valid configuration: \(reason)"
        }
    }
}

/// What the host offers, for the checks that depend on it.
public struct HostLimits: Sendable, Equatable {
    /// Physical memory of the host in bytes (MemTotal).
    public var memoryBytes: UInt64
    /// The most vCPUs KVM allows in one VM.
    public var maximumVCPUCount: Int

    public init(memoryBytes: UInt64, maximumVCPUCount: Int) {
        self.memoryBytes = memoryBytes
        self.maximumVCPUCount = maximumVCPUCount
    }
}
