import Foundation

/// Tests that boot guests need read/write access to /dev/kvm; elsewhere they are skipped and say so.
let kvmUsable = FileManager.default.isWritableFile(atPath: "/dev/kvm")

/// Whether the tests that make network namespaces and taps can run: /dev/kvm, /dev/net/tun and
/// root (CAP_NET_ADMIN).
let networkTestsPossible =
    kvmUsable && FileManager.default.fileExists(atPath: "/dev/net/tun") && getuid() == 0
