/// An IPv4 address, in host byte order.
public struct IPv4Address: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The address as a 32-bit number (10.0.2.1 is 0x0A00_0201).
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    /// Parses dotted-quad text ("10.0.2.1"); nil for anything else.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy(\.isASCII), let byte = UInt8(part),
                String(byte) == part
            else { return nil }
            value = value << 8 | UInt32(byte)
        }
        self.value = value
    }

    /// 255.255.255.255, the limited broadcast address.
    public static let broadcast = IPv4Address(0xFFFF_FFFF)
    /// 0.0.0.0.
    public static let any = IPv4Address(0)

    /// The four bytes in network order.
    public var bytes: [UInt8] {
        [
            UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8),
            UInt8(truncatingIfNeeded: value),
        ]
    }

    /// Whether this is in 127.0.0.0/8.
    public var isLoopback: Bool { value >> 24 == 127 }

    public var description: String { bytes.map(String.init).joined(separator: ".") }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }
}

/// An IPv4 subnet: a network address and a prefix length ("10.0.2.0/24").
public struct IPv4Subnet: Sendable, Hashable, CustomStringConvertible {
    /// The first address (host bits zero).
    public let network: IPv4Address
    /// 0 to 32.
    public let prefixLength: Int

    /// The subnet of `address`/`prefixLength` (host bits are cleared); nil when the prefix
    /// length is out of range.
    public init?(address: IPv4Address, prefixLength: Int) {
        guard (0...32).contains(prefixLength) else { return nil }
        self.prefixLength = prefixLength
        network = IPv4Address(address.value & Self.mask(prefixLength))
    }

    /// Parses "A.B.C.D/N"; the host bits must be zero.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv4Address(parts[0]), parts[1].allSatisfy(\.isASCII),
            let length = Int(parts[1]), (0...32).contains(length), address.value & ~Self.mask(length) == 0
        else { return nil }
        self.init(address: address, prefixLength: length)
    }

    /// The netmask (255.255.255.0 for /24).
    public var mask: IPv4Address { IPv4Address(Self.mask(prefixLength)) }
    /// The directed broadcast address (the last one).
    public var broadcast: IPv4Address { IPv4Address(network.value | ~Self.mask(prefixLength)) }

    /// Whether `address` is in this subnet.
    public func contains(_ address: IPv4Address) -> Bool {
        address.value & Self.mask(prefixLength) == network.value
    }

    /// Whether `address` is a usable host address here (not the network or broadcast address
    /// of a subnet that has them).
    public func isHost(_ address: IPv4Address) -> Bool {
        contains(address) && (prefixLength >= 31 || (address != network && address != broadcast))
    }

    /// The address `offset` above the network address (10.0.2.0/24 offset 2 is 10.0.2.2).
    public func address(offset: UInt32) -> IPv4Address { IPv4Address(network.value &+ offset) }

    public var description: String { "\(network)/\(prefixLength)" }

    static func mask(_ prefixLength: Int) -> UInt32 {
        prefixLength == 0 ? 0 : UInt32.max << UInt32(32 - prefixLength)
    }
}
