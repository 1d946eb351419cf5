import StrictCoding

/// An exit probe: a device that counts guest accesses in a port or MMIO range (see `Machine.statistics.probes`).
public struct ExitProbeConfiguration: Sendable, Equatable, Codable {
    /// The address space of the probe.
    public enum Space: String, Sendable, Codable, CaseIterable {
        case port
        case mmio
    }

    /// Port or MMIO.
    public var space: Space
    /// First port or guest-physical address.
    public var address: UInt64
    /// Range length in bytes.
    public var length: UInt64
    /// The value guest reads return.
    public var readValue: UInt64
    /// Absorb writes in the kernel through an ioeventfd (no exit to user space; only writes
    /// of exactly `length` bytes at `address` are absorbed).
    public var inKernel: Bool

    /// A probe of `length` bytes at `address` in `space`.
    public init(space: Space, address: UInt64, length: UInt64 = 1, readValue: UInt64 = 0, inKernel: Bool = false) {
        self.space = space
        self.address = address
        self.length = length
        self.readValue = readValue
        self.inKernel = inKernel
    }

    /// The JSON keys, in the order they are encoded.
    static let keys: StrictKeys<Self> = [
        .required("space", \.space), .required("address", \.address), .field("length", \.length),
        .field("read_value", \.readValue), .field("in_kernel", \.inKernel),
    ]

    public init(from decoder: any Decoder) throws {
        self = try Self.keys.decode(decoder, into: Self(space: .port, address: 0))
    }

    public func encode(to encoder: any Encoder) throws { try Self.keys.encode(self, to: encoder) }
}
