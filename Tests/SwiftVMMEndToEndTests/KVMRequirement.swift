import Foundation
// The KVM gate (kvmUsable, kvmSkipReason), the tags and the polling wait, for every file here.
@_exported import TestSupport

/// Whether the tests that make network namespaces and taps can run: /dev/kvm, /dev/net/tun and
/// root (CAP_NET_ADMIN).
let networkTestsPossible =
    kvmUsable && FileManager.default.fileExists(atPath: "/dev/net/tun") && getuid() == 0
