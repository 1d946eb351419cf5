import StrictCoding

/// A virtio-net interface backed by a host tap device.
public struct NetworkInterfaceConfiguration: Sendable, Equatable, Codable {
    /// The tap's name; created for the VM (and removed with it) when it does not exist.
    public var tap: String
    /// The guest's MAC address ("aa:bb:cc:dd:ee:ff"); nil: generated from the VM name, stable.
    public var mac: String?
    /// The interface MTU (68–65535); nil: 1500.
    public var mtu: Int?

    /// A NIC on tap device `tap` (created if missing), with `mac` (generated when nil) and `mtu`.
    public init(tap: String, mac: String? = nil, mtu: Int? = nil) {
        self.tap = tap
        self.mac = mac
        self.mtu = mtu
    }

    /// The JSON keys, in the order they are encoded.
    static let keys: StrictKeys<Self> = [.required("tap", \.tap), .field("mac", \.mac), .field("mtu", \.mtu)]

    public init(from decoder: any Decoder) throws { self = try Self.keys.decode(decoder, into: Self(tap: "")) }

    public func encode(to encoder: any Encoder) throws { try Self.keys.encode(self, to: encoder) }

    /// Parses `tap=NAME[,mac=MAC][,mtu=N]`.
    public init(argument: String, field: String = "net") throws(MachineError) {
        var tap: String?
        var mac: String?
        var mtu: Int?
        for option in argument.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else {
                throw .invalidValue(
                    field: field, value: String(option), expected: "key=value options: tap=, mac=, mtu=")
            }
            switch parts[0] {
            case "tap": tap = parts[1]
            case "mac": mac = parts[1]
            case "mtu":
                guard let value = Int(parts[1]) else {
                    throw .invalidValue(field: "\(field) mtu", value: parts[1], expected: "a number from 68 to 65535")
                }
                mtu = value
            default: throw .invalidValue(field: field, value: parts[0], expected: "one of tap, mac, mtu")
            }
        }
        guard let tap, !tap.isEmpty else { throw .invalidValue(field: field, value: argument, expected: "tap=NAME") }
        self.init(tap: tap, mac: mac, mtu: mtu)
        try validate(field: field)
    }

    package func validate(field: String) throws(MachineError) {
        guard !tap.isEmpty, tap.utf8.count < 16, !tap.contains("/"), !tap.contains(" ") else {
            throw .invalidValue(field: "\(field) tap", value: tap, expected: "an interface name of 1 to 15 characters")
        }
        if let mac {
            guard let bytes = Self.parseMAC(mac) else {
                throw .invalidValue(field: "\(field) mac", value: mac, expected: "six hex bytes like 02:00:00:00:00:01")
            }
            guard bytes[0] & 1 == 0 else {
                throw .invalidValue(field: "\(field) mac", value: mac, expected: "a unicast address (first byte even)")
            }
        }
        if let mtu, !(68...65535).contains(mtu) {
            throw .invalidValue(field: "\(field) mtu", value: "\(mtu)", expected: "a number from 68 to 65535")
        }
    }

    /// "aa:bb:cc:dd:ee:ff" as bytes, or nil.
    static func parseMAC(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        let bytes = parts.compactMap { $0.count == 2 ? UInt8($0, radix: 16) : nil }
        return bytes.count == 6 ? bytes : nil
    }

    /// The MAC the guest gets: the configured one, or one derived from `machineName` and
    /// `index` (FNV-1a), locally administered and unicast, the same on every run.
    func macAddress(machineName: String, index: Int) -> [UInt8] {
        if let mac, let bytes = Self.parseMAC(mac) { return bytes }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "\(machineName)/net\(index)".utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return [0x02] + (0..<5).map { UInt8(truncatingIfNeeded: hash >> (8 * $0)) }
    }
}
