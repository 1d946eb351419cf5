/// One kind of guest exit the benchmark measures.
public enum ExitKind: String, Sendable, CaseIterable, CustomStringConvertible {
    /// `out dx, al` to a port the VMM handles: KVM_EXIT_IO (out) to user space.
    case portOut = "pio_out"
    /// `in al, dx` from a port the VMM handles: KVM_EXIT_IO (in) to user space.
    case portIn = "pio_in"
    /// A one-byte store to an unbacked guest-physical address: KVM_EXIT_MMIO (write).
    case mmioWrite = "mmio_write"
    /// A one-byte load from an unbacked guest-physical address: KVM_EXIT_MMIO (read).
    case mmioRead = "mmio_read"
    /// `out dx, al` to a port with an ioeventfd: absorbed in the kernel, no exit to user space.
    case inKernelPortWrite = "ioeventfd_pio"
    /// A one-byte store to an MMIO address with an ioeventfd: absorbed in the kernel.
    case inKernelMMIOWrite = "ioeventfd_mmio"

    public var description: String { rawValue }

    /// Whether each access of this kind reaches the VMM's user-space loop (as opposed to
    /// being absorbed by an ioeventfd inside KVM).
    public var exitsToUserSpace: Bool {
        switch self {
        case .portOut, .portIn, .mmioWrite, .mmioRead: return true
        case .inKernelPortWrite, .inKernelMMIOWrite: return false
        }
    }
}
