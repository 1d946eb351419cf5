/// SwiftVMM's release.
public enum SwiftVMMVersion {
    /// The version string (`swiftvmm --version`, the control API's `vmm_version`).
    public static let current = "0.1.0"
}
