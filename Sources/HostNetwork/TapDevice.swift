import CHostNetwork

#if canImport(Glibc)
    import Glibc
#endif

/// Why a tap device cannot be used.
package enum TapError: Error, Equatable, Sendable, CustomStringConvertible {
    /// /dev/net/tun is missing or cannot be opened.
    case noTunDevice(errno: Int32)
    /// The kernel refused to create or attach the tap (usually: no CAP_NET_ADMIN).
    case permissionDenied(name: String, errno: Int32)
    case failed(name: String, step: String, errno: Int32)

    package var description: String {
        func text(_ code: Int32) -> String { "\(String(cString: strerror(code))) (errno \(code))" }
        switch self {
        case .noTunDevice(let code):
            return "cannot open /dev/net/tun: \(text(code)); load the tun module, or give the pod /dev/net/tun"
        case .permissionDenied(let name, let code):
            return "cannot attach tap '\(name)': \(text(code)); SwiftVMM needs CAP_NET_ADMIN for taps"
        case .failed(let name, let step, let code):
            return "tap '\(name)': \(step) failed: \(text(code))"
        }
    }
}

/// A tap interface opened with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (non-blocking). A tap that
/// did not exist is created for this VM and disappears when the descriptor closes (it is not
/// made persistent); an existing one (e.g. made with `ip tuntap add`) is attached to and left.
package final class TapDevice: Sendable {
    package let name: String
    /// The descriptor: frames are read and written with a virtio-net header in front.
    package let descriptor: Int32
    /// Whether this process created the interface.
    package let created: Bool

    /// Size of the virtio_net_hdr_v1 SwiftVMM uses on the tap.
    package static let virtioHeaderSize: Int32 = 12

    /// Opens (or creates) tap `name`, sets the virtio header size, no offloads yet, brings it up
    /// with `mtu` (when given).
    package init(name: String, mtu: Int? = nil) throws(TapError) {
        // IFNAMSIZ is 16 with the terminating zero: a longer name would be cut short silently.
        guard !name.isEmpty, name.utf8.count < 16, !name.utf8.contains(0) else {
            throw .failed(name: name, step: "checking the name (1 to 15 bytes)", errno: EINVAL)
        }
        if let mtu, !(68...65535).contains(mtu) {
            throw .failed(name: name, step: "checking the MTU \(mtu) (68 to 65535)", errno: EINVAL)
        }
        var createdFlag: Int32 = 0
        var step: Int32 = 0
        let fd = chostnetwork_tap_open(name, &createdFlag, &step)
        guard fd >= 0 else {
            let code = errno
            switch step {
            case 1: throw .noTunDevice(errno: code)
            case 2 where code == EPERM || code == EACCES: throw .permissionDenied(name: name, errno: code)
            default: throw .failed(name: name, step: step == 2 ? "TUNSETIFF" : "fcntl", errno: code)
            }
        }
        self.name = name
        descriptor = fd
        created = createdFlag != 0
        do throws(TapError) {
            guard chostnetwork_tap_set_vnet_header_size(fd, Self.virtioHeaderSize) == 0 else {
                throw TapError.failed(name: name, step: "TUNSETVNETHDRSZ", errno: errno)
            }
            try setOffloads(TapOffloads())
            guard chostnetwork_interface_up(name, Int32(mtu ?? 0)) == 0 else {
                let code = errno
                throw code == EPERM
                    ? TapError.permissionDenied(name: name, errno: code)
                    : TapError.failed(name: name, step: "bringing the interface up", errno: code)
            }
        } catch {
            close(fd)
            throw error
        }
    }

    deinit {
        close(descriptor)  // a tap this process created goes away with it
    }

    /// Tells the kernel which offloads the guest accepts (TUNSETOFFLOAD).
    package func setOffloads(_ offloads: TapOffloads) throws(TapError) {
        guard chostnetwork_tap_set_offload(descriptor, offloads.tunFlags) == 0 else {
            throw .failed(name: name, step: "TUNSETOFFLOAD", errno: errno)
        }
    }
}

/// Offloads the guest can take on received frames (mirrored onto the tap).
package struct TapOffloads: Sendable, Equatable {
    package var checksum = false
    package var tso4 = false
    package var tso6 = false
    package var tsoECN = false
    package var ufo = false

    package init(
        checksum: Bool = false, tso4: Bool = false, tso6: Bool = false, tsoECN: Bool = false, ufo: Bool = false
    ) {
        self.checksum = checksum
        self.tso4 = tso4
        self.tso6 = tso6
        self.tsoECN = tsoECN
        self.ufo = ufo
    }

    /// TUN_F_* bits; segmentation offloads only together with checksum offload, as the kernel requires.
    package var tunFlags: UInt32 {
        guard checksum else { return 0 }
        var flags = CHOSTNETWORK_TUN_F_CSUM
        if tso4 { flags |= CHOSTNETWORK_TUN_F_TSO4 }
        if tso6 { flags |= CHOSTNETWORK_TUN_F_TSO6 }
        if tsoECN, tso4 || tso6 { flags |= CHOSTNETWORK_TUN_F_TSO_ECN }
        if ufo { flags |= CHOSTNETWORK_TUN_F_UFO }
        return flags
    }
}
