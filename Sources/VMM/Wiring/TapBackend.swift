@_spi(ExitPath) import Devices
import HostNetwork
@_spi(ExitPath) import Virtio

/// A tap device as a virtio-net backend: offloads the guest negotiated are mirrored on the tap.
final class TapBackend: NetworkBackend {
    let tap: TapDevice

    init(tap: TapDevice) {
        self.tap = tap
    }

    var descriptor: Int32 { tap.descriptor }
    var name: String { "tap \(tap.name)" }

    func guestAcceptsOffloads(features: UInt64) {
        let offloads = TapOffloads(
            checksum: features & VirtioNetFeature.guestChecksum != 0,
            tso4: features & VirtioNetFeature.guestTSO4 != 0,
            tso6: features & VirtioNetFeature.guestTSO6 != 0,
            tsoECN: features & VirtioNetFeature.guestECN != 0)
        // A tap that refuses an offload keeps the previous set: frames then arrive with full
        // checksums, which every guest accepts.
        try? tap.setOffloads(offloads)
    }
}

extension TapError {
    /// The system call that failed.
    var cause: SystemCause {
        switch self {
        case .noTunDevice(let code): return SystemCause(operation: "open(/dev/net/tun)", errno: code)
        case .permissionDenied(_, let code): return SystemCause(operation: "ioctl(TUNSETIFF)", errno: code)
        case .failed(_, let step, let code): return SystemCause(operation: step, errno: code)
        }
    }
}
