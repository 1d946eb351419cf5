/// Fixed guest-physical and port addresses of the platform.
enum PlatformLayout {
    /// KVM's identity-map page (Intel real-mode support), in the MMIO hole below 4 GiB.
    static let identityMapAddress: UInt64 = 0xFEFF_C000
    /// KVM's three-page real-mode TSS, just above the identity-map page.
    static let tssAddress: UInt64 = 0xFEFF_D000
    /// The debug-exit port.
    static let debugExitPort: UInt16 = 0xf4
}
