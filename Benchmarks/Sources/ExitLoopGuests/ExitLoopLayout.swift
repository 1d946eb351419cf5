/// Addresses and sizes shared by both loops (SwiftVMM and C): the same VM, the same devices.
public enum ExitLoopLayout {
    /// Guest RAM: 1 MiB at guest-physical 0, so everything from 0x100000 up is MMIO.
    public static let memoryBytes: UInt64 = 1 << 20
    /// Where the guest code is loaded and entered (SwiftVMM's raw-code default).
    public static let loadAddress: UInt64 = 0x8000
    /// KVM's real-mode TSS (three pages) and identity-map page, as SwiftVMM sets them.
    public static let tssAddress: UInt64 = 0xFEFF_D000
    public static let identityMapAddress: UInt64 = 0xFEFF_C000

    /// A port the VMM handles in user space (an exit probe in SwiftVMM).
    public static let userPort: UInt16 = 0x10
    /// A port with an ioeventfd: writes are absorbed in the kernel.
    public static let inKernelPort: UInt16 = 0x20
    /// An MMIO address the VMM handles in user space.
    public static let userMMIOAddress: UInt64 = 0x10_0000
    /// An MMIO address with an ioeventfd.
    public static let inKernelMMIOAddress: UInt64 = 0x10_1000
    /// Bytes per device range and per access (ioeventfd length, no datamatch).
    public static let accessBytes: UInt64 = 1
    /// The value user-space handlers return for `in` and MMIO reads.
    public static let readValue: UInt64 = 0xA5

    /// The debug-exit port: a write ends the run; the byte written is the guest's status.
    public static let debugExitPort: UInt16 = 0xf4
    /// The status the guest writes once its loop has run to the end.
    public static let finishedStatus: UInt8 = 0x5A

    /// Real mode reaches 0x100000 and up through ES = 0xFFFF (base 0xFFFF0, no A20 wrap in
    /// KVM); the MMIO offset in BX is then `address - 0xFFFF0`.
    public static let realModeHighSegment: UInt16 = 0xFFFF
    public static var realModeHighSegmentBase: UInt64 { UInt64(realModeHighSegment) << 4 }
}
