/// Fixed guest-physical and port addresses of the platform.
enum PlatformLayout {
    /// KVM's identity-map page (Intel real-mode support), in the MMIO hole below 4 GiB.
    static let identityMapAddress: UInt64 = 0xFEFF_C000
    /// KVM's three-page real-mode TSS, just above the identity-map page.
    static let tssAddress: UInt64 = 0xFEFF_D000
    /// The debug-exit port.
    static let debugExitPort: UInt16 = 0xf4

    /// Port ranges KVM's in-kernel irqchip and PIT answer (they never exit to user space):
    /// the two i8259 PICs, the i8254 PIT, the speaker port and the ELCR.
    static let kernelOwnedPorts: [(name: String, base: UInt16, length: UInt64)] = [
        ("in-kernel PIC (master)", 0x20, 2), ("in-kernel PIT", 0x40, 4), ("in-kernel PIT speaker port", 0x61, 1),
        ("in-kernel PIC (slave)", 0xa0, 2), ("in-kernel ELCR", 0x4d0, 2),
    ]
    /// MMIO windows of the in-kernel IOAPIC and local APICs.
    static let kernelOwnedMMIO: [(name: String, base: UInt64, length: UInt64)] = [
        ("in-kernel IOAPIC", 0xfec0_0000, 0x1000), ("in-kernel local APIC", 0xfee0_0000, 0x1000),
    ]
}
