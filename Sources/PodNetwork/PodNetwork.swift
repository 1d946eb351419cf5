import CPodNetwork
import HostNetwork

#if canImport(Glibc)
    import Glibc
#endif

/// The masquerade binding, set up in the pod's network namespace without daemons or commands: a
/// persistent tap with the gateway's address, the nftables table (`NFTablesRuleset`) and the
/// DHCPv4 server. `plan` reads and checks everything first; `setUp` then changes the namespace
/// and undoes what it did if a later step fails; `tearDown` removes it all again.
public final class PodNetwork: Sendable {
    /// Everything set-up will do, computed before anything is touched.
    public struct Plan: Sendable, Equatable {
        public var configuration: PodNetworkConfiguration
        /// The pod's interface, its IPv4 address and MTU.
        public var podInterface: String
        public var podAddress: IPv4Address
        public var mtu: Int
        public var ruleset: NFTablesRuleset
        public var lease: DHCPServer.Lease
    }

    /// Where `plan` reads the pod's state (tests point these at files of their own).
    public struct Sources: Sendable {
        public var resolvConf = "/etc/resolv.conf"
        public var procNetRoute = "/proc/net/route"
        public var ipForward = "/proc/sys/net/ipv4/ip_forward"
        public var tunDevice = "/dev/net/tun"

        public init() {}
    }

    public let plan: Plan
    private let createdTap: Bool
    private let dhcp: DHCPService?

    /// Reads the pod's interface, address, MTU and DNS, checks forwarding, /dev/net/tun and
    /// libnftables, and computes the rules and the lease. Nothing is changed.
    public static func plan(
        _ configuration: PodNetworkConfiguration, hostName: String?, reservedTCPPorts: [Int] = [],
        sources: Sources = Sources()
    ) throws(PodNetworkError) -> Plan {
        try configuration.validateOrThrowPodError()
        guard let forward = PodEnvironment.read(sources.ipForward) else {
            throw PodNetworkError(message: "pod network: cannot read \(sources.ipForward) to check IPv4 forwarding")
        }
        guard forward.trimmingASCIIWhitespace() == "1" else {
            throw PodNetworkError(
                message:
                    "pod network: IPv4 forwarding is off in the pod (\(sources.ipForward) = "
                    + "\(forward.trimmingASCIIWhitespace())) and a pod cannot turn it on; the node must provide it: "
                    + "set net.ipv4.ip_forward=1 on the node (pod namespaces inherit it), as any CNI that routes pods does"
            )
        }
        guard access(sources.tunDevice, R_OK | W_OK) == 0 else {
            throw PodNetworkError(
                step: "opening \(sources.tunDevice)", errno: errno,
                advice: "give the pod /dev/net/tun as a hostPath volume of type CharDevice")
        }
        let interface: String
        if let named = configuration.podInterface {
            interface = named
        } else {
            guard let routes = PodEnvironment.read(sources.procNetRoute),
                let found = PodEnvironment.defaultRouteInterface(procNetRoute: routes)
            else {
                throw PodNetworkError(
                    message:
                        "pod network: the pod has no IPv4 default route (\(sources.procNetRoute)); name its interface in "
                        + "pod.network.interface")
            }
            interface = found
        }
        guard NetworkInterface.index(of: interface) != nil else {
            throw PodNetworkError(
                message:
                    "pod network: pod.network.interface: no interface '\(interface)' in the pod's network namespace")
        }
        let podIPv4: (address: UInt32, netmask: UInt32, mtu: Int)
        do { podIPv4 = try NetworkInterface.ipv4(of: interface) } catch {
            throw PodNetworkError(step: "reading the IPv4 address of \(interface)", errno: error.errno)
        }
        let podAddress = IPv4Address(podIPv4.address)
        if configuration.subnet.contains(podAddress) {
            throw PodNetworkError(
                message:
                    "pod network: pod.network.subnet \(configuration.subnet) holds the pod's own address \(podAddress); "
                    + "choose another private subnet")
        }
        var error = [CChar](repeating: 0, count: 512)
        guard cpodnet_nft_available(&error, error.count) == 1 else {
            throw PodNetworkError(
                message: "pod network: \(text(of: error)); the image needs Debian's libnftables1")
        }
        let mtu = configuration.mtu ?? podIPv4.mtu
        var dns = PodEnvironment.parseResolvConf(PodEnvironment.read(sources.resolvConf) ?? "")
        // A name server on the pod's loopback cannot be reached from the guest.
        dns.servers.removeAll(where: \.isLoopback)
        let ruleset = NFTablesRuleset(
            tap: configuration.tap, podInterface: interface, podAddress: podAddress, guestSubnet: configuration.subnet,
            guestAddress: configuration.guestAddress, ports: configuration.ports, reservedTCPPorts: reservedTCPPorts,
            forwardICMP: configuration.forwardICMP, dnsServers: dns.servers,
            allowedDestinations: configuration.allowedDestinations)
        let lease = DHCPServer.Lease(
            address: configuration.guestAddress, subnet: configuration.subnet, gateway: configuration.gatewayAddress,
            dnsServers: dns.servers, searchDomains: dns.searchDomains, mtu: mtu, hostName: hostName,
            leaseSeconds: configuration.leaseSeconds)
        return Plan(
            configuration: configuration, podInterface: interface, podAddress: podAddress, mtu: mtu, ruleset: ruleset,
            lease: lease)
    }

    /// Creates the tap, gives it the gateway's address, installs the rules and starts the DHCP
    /// server; on a failure, what was done is undone before the error is thrown.
    public static func setUp(
        _ plan: Plan, dhcpEvents: @escaping @Sendable (DHCPService.Event) -> Void
    ) throws(PodNetworkError) -> PodNetwork {
        let tap = plan.configuration.tap
        let tapExisted = NetworkInterface.index(of: tap) != nil
        do { try NetworkInterface.createPersistentTap(tap) } catch {
            throw PodNetworkError(
                step: "creating tap \(tap)", errno: error.errno,
                advice: error.errno == EPERM ? "the container needs the NET_ADMIN capability" : nil)
        }
        var undo: [() -> Void] = []
        if !tapExisted { undo.append { try? NetworkInterface.delete(tap) } }
        func rollback() { for step in undo.reversed() { step() } }
        let configuration = plan.configuration
        // IPv6 off before the link goes up: no link-local address (services on [::] would be
        // reachable over it); a leftover tap goes down first, which drops the addresses it has.
        do {
            try NetworkInterface.down(tap)
            try NetworkInterface.turnIPv6AddressesOff(tap)
        } catch {
            rollback()
            throw PodNetworkError(step: "turning IPv6 addresses off on \(tap)", errno: error.errno)
        }
        do {
            try NetworkInterface.configure(
                tap, address: configuration.gatewayAddress.value, prefixLength: configuration.subnet.prefixLength,
                mtu: plan.mtu)
        } catch {
            rollback()
            throw PodNetworkError(step: "giving \(tap) the address \(configuration.gatewayAddress)", errno: error.errno)
        }
        do { try runNFT(plan.ruleset.createCommands, step: "installing the nftables rules") } catch {
            rollback()
            throw error
        }
        undo.append { try? runNFT(NFTablesRuleset.deleteCommands, step: "removing the nftables rules") }
        var dhcp: DHCPService?
        if configuration.dhcp {
            do {
                let service = try DHCPService(interface: tap, lease: plan.lease)
                try service.start(events: dhcpEvents)
                dhcp = service
            } catch {
                rollback()
                throw error
            }
        }
        return PodNetwork(plan: plan, createdTap: !tapExisted, dhcp: dhcp)
    }

    private init(plan: Plan, createdTap: Bool, dhcp: DHCPService?) {
        self.plan = plan
        self.createdTap = createdTap
        self.dhcp = dhcp
    }

    /// The DHCP server's counters (zero without DHCP).
    public var dhcpCounters: DHCPService.Counters { dhcp?.counters ?? DHCPService.Counters() }

    /// Stops the DHCP server; the tap and the rules stay (the end of a run, when no capability
    /// is left to remove them: the pod's namespace, and all in it, goes when the pod does).
    public func stopServices() {
        dhcp?.stop()
    }

    /// Stops the DHCP server and removes the rules and the tap (if set-up created it): for a
    /// set-up that fails after the network was made, while the process holds CAP_NET_ADMIN.
    /// Returns what could not be removed.
    @discardableResult
    public func tearDown() -> [String] {
        dhcp?.stop()
        var left: [String] = []
        do { try Self.runNFT(NFTablesRuleset.deleteCommands, step: "removing the nftables rules") } catch {
            left.append(error.message)
        }
        if createdTap {
            do { try NetworkInterface.delete(plan.configuration.tap) } catch {
                left.append(PodNetworkError(step: "removing tap \(plan.configuration.tap)", errno: error.errno).message)
            }
        }
        return left
    }

    /// Runs `commands` through libnftables as one transaction (with `dryRun`, only checks them).
    package static func runNFT(_ commands: String, step: String, dryRun: Bool = false) throws(PodNetworkError) {
        var error = [CChar](repeating: 0, count: 2048)
        guard cpodnet_nft_run(commands, dryRun ? 1 : 0, &error, error.count) == 0 else {
            let text = text(of: error).split(whereSeparator: \.isNewline).joined(separator: " ")
            throw PodNetworkError(message: "pod network: \(step) failed: \(text)")
        }
    }
}

/// The text of a NUL-terminated C buffer.
private func text(of buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

extension PodNetworkConfiguration {
    /// `validate()`, its error a set-up failure (status 18, as the pod network's others).
    fileprivate func validateOrThrowPodError() throws(PodNetworkError) {
        do { try validate() } catch { throw PodNetworkError(message: error.message) }
    }
}

extension String {
    fileprivate func trimmingASCIIWhitespace() -> String {
        String(
            self.drop { $0 == " " || $0 == "\n" || $0 == "\t" }.reversed().drop {
                $0 == " " || $0 == "\n" || $0 == "\t"
            }.reversed())
    }
}
