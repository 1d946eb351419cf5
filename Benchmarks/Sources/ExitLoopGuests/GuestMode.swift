/// The CPU mode a benchmark guest runs in. On a PVM host the two cost very differently, so
/// every result row names its mode.
public enum GuestMode: String, Sendable, CaseIterable, CustomStringConvertible {
    /// 64-bit long mode at CPL 3 (SwiftVMM's `RawCodeBoot.Mode.long64User`).
    case long64User = "long64_user"
    /// 16-bit real mode (SwiftVMM's `RawCodeBoot.Mode.real16`).
    case real16 = "real16"

    public var description: String { rawValue }

    /// What the mode means for the cost of guest code on this project's PVM hosts.
    public var hostExecution: String {
        switch self {
        case .long64User: return "CPL 3 long mode, native on PVM"
        case .real16: return "real mode, emulated on PVM"
        }
    }
}
