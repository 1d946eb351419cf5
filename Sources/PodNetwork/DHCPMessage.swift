/// A DHCPv4 message (RFC 2131 §2, options RFC 2132): parsed from the bytes a client sent, or
/// built for a reply. Parsing is bounded by the datagram: every length is checked, and a
/// malformed message is nil (dropped), never a trap.
public struct DHCPMessage: Sendable, Equatable {
    /// Option 53.
    public enum MessageType: UInt8, Sendable {
        case discover = 1, offer, request, decline, ack, nak, release, inform
    }

    /// Option codes used here.
    public enum Option {
        public static let pad: UInt8 = 0
        public static let subnetMask: UInt8 = 1
        public static let router: UInt8 = 3
        public static let domainNameServer: UInt8 = 6
        public static let hostName: UInt8 = 12
        public static let domainName: UInt8 = 15
        public static let interfaceMTU: UInt8 = 26
        public static let broadcastAddress: UInt8 = 28
        public static let requestedAddress: UInt8 = 50
        public static let leaseTime: UInt8 = 51
        public static let messageType: UInt8 = 53
        public static let serverIdentifier: UInt8 = 54
        public static let parameterRequestList: UInt8 = 55
        public static let message: UInt8 = 56
        public static let renewalTime: UInt8 = 58
        public static let rebindingTime: UInt8 = 59
        public static let clientIdentifier: UInt8 = 61
        public static let domainSearch: UInt8 = 119
        public static let end: UInt8 = 255
    }

    /// BOOTREQUEST (1) from a client, BOOTREPLY (2) from a server.
    public var op: UInt8
    public var transactionID: UInt32
    public var seconds: UInt16
    /// Bit 15: the client asks for broadcast replies.
    public var flags: UInt16
    public var clientAddress: IPv4Address
    public var yourAddress: IPv4Address
    public var serverAddress: IPv4Address
    public var relayAddress: IPv4Address
    /// The client's hardware address (6 bytes for Ethernet).
    public var clientHardwareAddress: [UInt8]
    /// Options in order; a code that appears more than once has its values concatenated
    /// (RFC 3396).
    public var options: [(code: UInt8, value: [UInt8])]

    /// The fixed part (236 bytes) plus the magic cookie.
    public static let headerLength = 240
    /// What a reply is padded to at least (BOOTP's minimum, which some clients require).
    public static let minimumReplyLength = 300
    static let magicCookie: [UInt8] = [99, 130, 83, 99]
    public static let broadcastFlag: UInt16 = 0x8000

    public init(
        op: UInt8, transactionID: UInt32, flags: UInt16 = 0, clientAddress: IPv4Address = .any,
        yourAddress: IPv4Address = .any, serverAddress: IPv4Address = .any, relayAddress: IPv4Address = .any,
        clientHardwareAddress: [UInt8], options: [(code: UInt8, value: [UInt8])] = []
    ) {
        self.op = op
        self.transactionID = transactionID
        self.seconds = 0
        self.flags = flags
        self.clientAddress = clientAddress
        self.yourAddress = yourAddress
        self.serverAddress = serverAddress
        self.relayAddress = relayAddress
        self.clientHardwareAddress = clientHardwareAddress
        self.options = options
    }

    /// Parses `bytes`; nil when it is not a well-formed Ethernet DHCP message.
    public init?(bytes: [UInt8]) {
        guard bytes.count >= Self.headerLength, bytes[1] == 1, bytes[2] == 6,
            Array(bytes[236..<240]) == Self.magicCookie
        else { return nil }
        func word(_ at: Int) -> UInt32 {
            UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
        }
        op = bytes[0]
        transactionID = word(4)
        seconds = UInt16(bytes[8]) << 8 | UInt16(bytes[9])
        flags = UInt16(bytes[10]) << 8 | UInt16(bytes[11])
        clientAddress = IPv4Address(word(12))
        yourAddress = IPv4Address(word(16))
        serverAddress = IPv4Address(word(20))
        relayAddress = IPv4Address(word(24))
        clientHardwareAddress = Array(bytes[28..<34])
        var options: [(code: UInt8, value: [UInt8])] = []
        // Where each code's entry is (a guest may repeat codes thousands of times: no search).
        var position = [Int](repeating: -1, count: 256)
        var index = Self.headerLength
        var ended = false
        while index < bytes.count {
            let code = bytes[index]
            index += 1
            if code == Option.pad { continue }
            if code == Option.end {
                ended = true
                break
            }
            guard index < bytes.count else { return nil }
            let length = Int(bytes[index])
            index += 1
            guard length <= bytes.count - index else { return nil }
            let value = Array(bytes[index..<index + length])
            index += length
            if position[Int(code)] >= 0 {
                options[position[Int(code)]].value += value
            } else {
                position[Int(code)] = options.count
                options.append((code, value))
            }
        }
        guard ended else { return nil }
        self.options = options
    }

    public static func == (lhs: DHCPMessage, rhs: DHCPMessage) -> Bool {
        lhs.op == rhs.op && lhs.transactionID == rhs.transactionID && lhs.seconds == rhs.seconds
            && lhs.flags == rhs.flags && lhs.clientAddress == rhs.clientAddress && lhs.yourAddress == rhs.yourAddress
            && lhs.serverAddress == rhs.serverAddress && lhs.relayAddress == rhs.relayAddress
            && lhs.clientHardwareAddress == rhs.clientHardwareAddress
            && lhs.options.map(\.code) == rhs.options.map(\.code)
            && lhs.options.map(\.value) == rhs.options.map(\.value)
    }

    /// The value of option `code`, if present.
    public func option(_ code: UInt8) -> [UInt8]? { options.first { $0.code == code }?.value }

    /// Option 53.
    public var messageType: MessageType? {
        guard let value = option(Option.messageType), value.count == 1 else { return nil }
        return MessageType(rawValue: value[0])
    }

    /// An option holding one IPv4 address (50, 54).
    public func addressOption(_ code: UInt8) -> IPv4Address? {
        guard let value = option(code), value.count == 4 else { return nil }
        return IPv4Address(UInt32(value[0]) << 24 | UInt32(value[1]) << 16 | UInt32(value[2]) << 8 | UInt32(value[3]))
    }

    /// The wire form: header, magic cookie, options (values over 255 bytes split into several
    /// instances, RFC 3396), end, padded to `minimumReplyLength`.
    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.headerLength)
        func put(_ value: UInt32, at: Int) {
            for shift in 0..<4 { out[at + shift] = UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32(shift))) }
        }
        out[0] = op
        out[1] = 1
        out[2] = 6
        put(transactionID, at: 4)
        out[8] = UInt8(seconds >> 8)
        out[9] = UInt8(truncatingIfNeeded: seconds)
        out[10] = UInt8(flags >> 8)
        out[11] = UInt8(truncatingIfNeeded: flags)
        put(clientAddress.value, at: 12)
        put(yourAddress.value, at: 16)
        put(serverAddress.value, at: 20)
        put(relayAddress.value, at: 24)
        for (offset, byte) in clientHardwareAddress.prefix(16).enumerated() { out[28 + offset] = byte }
        out.replaceSubrange(236..<240, with: Self.magicCookie)
        for (code, value) in options {
            var rest = value[...]
            repeat {
                let piece = rest.prefix(255)
                out += [code, UInt8(piece.count)] + piece
                rest = rest.dropFirst(piece.count)
            } while !rest.isEmpty
        }
        out.append(Option.end)
        if out.count < Self.minimumReplyLength {
            out += [UInt8](repeating: 0, count: Self.minimumReplyLength - out.count)
        }
        return out
    }
}

extension DHCPMessage {
    /// RFC 1035 name encoding of a domain search list (option 119, RFC 3397), without
    /// compression. Labels longer than 63 bytes and names longer than 255 are left out.
    public static func encodeSearchList(_ domains: [String]) -> [UInt8] {
        var out: [UInt8] = []
        for domain in domains {
            let labels = domain.split(separator: ".").map { Array($0.utf8) }
            guard !labels.isEmpty, labels.allSatisfy({ (1...63).contains($0.count) }),
                labels.reduce(1, { $0 + $1.count + 1 }) <= 255
            else { continue }
            for label in labels { out += [UInt8(label.count)] + label }
            out.append(0)
        }
        return out
    }
}
