import Foundation

/// The host programs the end-to-end tests run, each with the Debian package that has it
/// (scripts/test.sh installs them all). A test whose program is missing fails with an issue that
/// names the package; it is not skipped.
enum HostTool {
    /// A host program that is not installed.
    struct Missing: Error, CustomStringConvertible {
        var name: String
        var package: String

        var description: String {
            "\(name) not found: install Debian package \(package) (scripts/test.sh installs it)"
        }
    }

    /// The path of host program `name` (searched in PATH, then in the system folders, which a
    /// PATH may lack); throws ``Missing``, naming Debian package `package`, if there is none.
    static func require(_ name: String, package: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let folders =
            path.split(separator: ":").map(String.init) + [
                "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin",
            ]
        for folder in folders where FileManager.default.isExecutableFile(atPath: "\(folder)/\(name)") {
            return "\(folder)/\(name)"
        }
        throw Missing(name: name, package: package)
    }

    static var ip: String { get throws { try require("ip", package: "iproute2") } }
    static var ping: String { get throws { try require("ping", package: "iputils-ping") } }
    static var python3: String { get throws { try require("python3", package: "python3") } }
    static var unshare: String { get throws { try require("unshare", package: "util-linux") } }
    static var sha256sum: String { get throws { try require("sha256sum", package: "coreutils") } }
    static var strace: String { get throws { try require("strace", package: "strace") } }
    static var mkfsExt4: String { get throws { try require("mkfs.ext4", package: "e2fsprogs") } }
    static var debugfs: String { get throws { try require("debugfs", package: "e2fsprogs") } }
    static var qemu: String { get throws { try require("qemu-system-x86_64", package: "qemu-system-x86") } }
    static var gcc: String { get throws { try require("gcc", package: "gcc") } }
    static var ld: String { get throws { try require("ld", package: "binutils") } }
}
