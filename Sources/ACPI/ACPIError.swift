/// Why ACPI tables cannot be built from the given description.
package enum ACPIError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalid(String)

    package var description: String {
        switch self {
        case .invalid(let text): return text
        }
    }
}
