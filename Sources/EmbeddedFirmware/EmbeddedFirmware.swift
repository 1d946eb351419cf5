import FoundationEssentials

/// SwiftVMM's test firmware (see firmware/README.md), built from firmware/src when the package
/// builds and embedded in the binary: the guest `swiftvmm run` boots when given no kernel.
package enum EmbeddedFirmware {
    /// The firmware's ELF image (a PVH ELF).
    package static let elf: [UInt8] = {
        let text = EmbeddedFirmwareImage.base64.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }
        // The plugin writes valid base64 of a non-empty file; an empty result would be a build bug
        // that every test booting the firmware reports ("not a bootable image").
        return Data(base64Encoded: text).map { [UInt8]($0) } ?? []
    }()
}
