/// Why ACPI tables cannot be built from the given description.
public enum ACPIError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalid(String)

    public var description: String {
        switch self {
        case .invalid(let text): return text
        }
    }
}
