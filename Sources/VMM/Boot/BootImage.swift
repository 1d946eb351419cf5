/// The boot image formats SwiftVMM recognises.
enum BootImageFormat: Equatable {
    /// ELF (a `vmlinux` or a PVH firmware).
    case elf
    /// A Linux bzImage ("HdrS" setup header).
    case bzImage
    case unknown
}

/// Identifies boot images by their magic numbers.
enum BootImage {
    /// The formats this build boots from a file, for messages.
    static let supportedFormats =
        "none yet from a file: this build boots only raw_code guests given in --config"
        + " (PVH ELF and bzImage support are planned)"

    static func format(of bytes: [UInt8]) -> BootImageFormat {
        if bytes.count >= 4, bytes[0] == 0x7f, bytes[1] == 0x45, bytes[2] == 0x4c, bytes[3] == 0x46 { return .elf }
        if bytes.count >= 0x206, bytes[0x202] == 0x48, bytes[0x203] == 0x64, bytes[0x204] == 0x72, bytes[0x205] == 0x53
        {
            return .bzImage
        }
        return .unknown
    }

    /// Reads the kernel at `path` and returns why this build cannot boot it: the file cannot be
    /// read, or its format (named in the message) is not supported yet.
    static func rejection(path: String) -> ConfigurationError {
        let bytes: [UInt8]
        do { bytes = try HostFile.read(path: path, field: "kernel") } catch { return error }
        switch format(of: bytes) {
        case .elf:
            return .unsupportedBootImage(path: path, reason: "is an ELF image; supported formats: \(supportedFormats)")
        case .bzImage:
            return .unsupportedBootImage(
                path: path, reason: "is a Linux bzImage; supported formats: \(supportedFormats)")
        case .unknown:
            return .unsupportedBootImage(
                path: path,
                reason:
                    "is not a recognised boot image (no ELF or bzImage header); supported formats: \(supportedFormats)")
        }
    }
}
