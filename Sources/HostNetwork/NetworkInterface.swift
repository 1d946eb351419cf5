import CHostNetwork

#if canImport(Glibc)
    import Glibc
#endif

/// A network interface operation the kernel refused: the errno it failed with (callers name the
/// step in their own messages).
package struct InterfaceError: Error, Equatable, Sendable {
    package let errno: Int32

    /// The calling thread's current errno.
    static var current: InterfaceError { InterfaceError(errno: Glibc.errno) }
}

/// The interface operations of the pod's network namespace (interface ioctls and netlink
/// requests): look an interface up, read its IPv4 address, create a persistent tap, configure,
/// take down and delete links. `TapDevice` opens a tap for a machine; these make the one it opens.
package enum NetworkInterface {
    /// The interface's index, or nil when there is no interface `name`.
    package static func index(of name: String) -> UInt32? {
        let index = chostnetwork_interface_index(name)
        return index == 0 ? nil : index
    }

    /// `name`'s IPv4 address and netmask (host order) and its MTU.
    package static func ipv4(of name: String) throws(InterfaceError) -> (address: UInt32, netmask: UInt32, mtu: Int) {
        var address: UInt32 = 0
        var netmask: UInt32 = 0
        var mtu: Int32 = 0
        guard chostnetwork_interface_read(name, &address, &netmask, &mtu) == 0 else { throw .current }
        return (address, netmask, Int(mtu))
    }

    /// Creates tap `name` (IFF_TAP | IFF_NO_PI) and makes it persistent, so that it outlives this
    /// call and a VMM attaches to it by name (EBUSY: it exists and is in use).
    package static func createPersistentTap(_ name: String) throws(InterfaceError) {
        guard chostnetwork_tap_create_persistent(name) == 0 else { throw .current }
    }

    /// Takes `name` down (going down drops its IPv6 addresses).
    package static func down(_ name: String) throws(InterfaceError) {
        guard chostnetwork_interface_down(name) == 0 else { throw .current }
    }

    /// Makes link `name` generate no IPv6 address when it goes up (no link-local address); a
    /// kernel without IPv6 is fine.
    package static func turnIPv6AddressesOff(_ name: String) throws(InterfaceError) {
        guard chostnetwork_link_ipv6_addresses_off(name) == 0 else { throw .current }
    }

    /// Gives `name` the IPv4 `address` (host order) with `prefixLength`, sets its MTU (when
    /// given) and brings it up.
    package static func configure(
        _ name: String, address: UInt32, prefixLength: Int, mtu: Int?
    ) throws(InterfaceError) {
        guard chostnetwork_interface_configure(name, address, Int32(prefixLength), Int32(mtu ?? 0)) == 0 else {
            throw .current
        }
    }

    /// Deletes link `name` (a netlink RTM_DELLINK: a tap goes even while a descriptor is attached).
    package static func delete(_ name: String) throws(InterfaceError) {
        guard chostnetwork_link_delete(name) == 0 else { throw .current }
    }
}
