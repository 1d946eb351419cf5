/// Why a boot image cannot be loaded. Every message names what is wrong in the file.
package enum BootError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file is not an ELF image of the kind SwiftVMM boots.
    case notBootable(String)
    /// The ELF structure is inconsistent (truncated, out-of-range offsets, overlaps).
    case malformed(String)
    /// The image does not fit the guest's memory.
    case doesNotFit(String)

    package var description: String {
        switch self {
        case .notBootable(let text), .malformed(let text), .doesNotFit(let text): return text
        }
    }
}
