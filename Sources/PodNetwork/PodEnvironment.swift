import FoundationEssentials

/// What the pod's network namespace says about itself: its DNS settings (/etc/resolv.conf), its
/// default route's interface (/proc/net/route) and whether it forwards IPv4.
public enum PodEnvironment {
    /// The DNS settings of a resolv.conf.
    public struct DNS: Sendable, Equatable {
        /// `nameserver` lines with IPv4 addresses, in order.
        public var servers: [IPv4Address] = []
        /// The last `search` (or `domain`) line's domains.
        public var searchDomains: [String] = []

        public init(servers: [IPv4Address] = [], searchDomains: [String] = []) {
            self.servers = servers
            self.searchDomains = searchDomains
        }
    }

    /// Parses resolv.conf text (resolv.conf(5)): IPv6 name servers are skipped (the guest gets
    /// IPv4 only), as are comments and unknown lines.
    public static func parseResolvConf(_ text: String) -> DNS {
        var dns = DNS()
        for line in text.split(whereSeparator: \.isNewline) {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let keyword = words.first, !keyword.hasPrefix("#"), !keyword.hasPrefix(";") else { continue }
            switch keyword {
            case "nameserver":
                if words.count >= 2, let address = IPv4Address(words[1]) { dns.servers.append(address) }
            case "search", "domain":
                dns.searchDomains = words.dropFirst().prefix { !$0.hasPrefix("#") }.map {
                    String($0.hasSuffix(".") ? $0.dropLast() : $0)
                }.filter { !$0.isEmpty }
            default:
                continue
            }
        }
        return dns
    }

    /// The interface of the IPv4 default route in /proc/net/route text (the first with the
    /// lowest metric), or nil.
    public static func defaultRouteInterface(procNetRoute text: String) -> String? {
        var best: (name: String, metric: Int)?
        for line in text.split(whereSeparator: \.isNewline).dropFirst() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            // Iface Destination Gateway Flags RefCnt Use Metric Mask ...
            guard fields.count >= 8, fields[1] == "00000000", fields[7] == "00000000",
                let flags = Int(fields[3], radix: 16), flags & 1 != 0, let metric = Int(fields[6])
            else { continue }
            if metric < best?.metric ?? Int.max { best = (String(fields[0]), metric) }
        }
        return best?.name
    }

    /// Reads a small text file; nil when it cannot be read.
    static func read(_ path: String) -> String? {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path)) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}
