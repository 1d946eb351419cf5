import Devices
import GuestMemory
import KVM

/// Why a machine could not be built or started.
public enum MachineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The configuration is invalid or does not fit this host.
    case configuration(ConfigurationError)
    /// The host's KVM cannot run the machine.
    case hostUnsupported(String)
    /// Setting the machine up failed.
    case setupFailed(String)

    public var description: String {
        switch self {
        case .configuration(let error): return error.description
        case .hostUnsupported(let text): return text
        case .setupFailed(let text): return text
        }
    }

    /// The process exit status for this error (see `ExitStatus`).
    public var exitStatus: Int32 {
        switch self {
        case .configuration(let error): return error.exitStatus
        case .hostUnsupported: return ExitStatus.hostUnsupported
        case .setupFailed: return ExitStatus.vmmError
        }
    }

    static func from(_ error: KVMError) -> MachineError {
        switch error {
        case .deviceUnavailable, .unsupportedAPIVersion, .missingCapability: return .hostUnsupported(error.description)
        case .ioctlFailed, .systemCallFailed, .invalidArgument: return .setupFailed(error.description)
        }
    }

    static func from(_ error: GuestMemoryError) -> MachineError {
        switch error {
        case .allocationFailed:
            return .configuration(
                .exceedsHost(field: "memory_mib", value: "the requested size", limit: error.description))
        case .outOfBounds, .misaligned, .invalidLayout: return .setupFailed(error.description)
        }
    }

    static func from(_ error: BusError) -> MachineError {
        .configuration(.invalidValue(field: "probes", value: error.description, expected: "ranges that do not overlap"))
    }
}
