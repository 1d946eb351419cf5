import Logging
import PodNetwork
import VMM

/// `launch`'s pod network step: plan (every check, nothing changed), give the machine its NIC on
/// the tap, then set up (undone again if a step fails) — before the machine is built and the
/// sandbox drops the capabilities it needs.
enum PodNetworkStep {
    /// Sets up `settings.pod.network` (if any) and adds its NIC to `machine`; nil without one.
    static func setUp(
        _ settings: LaunchConfiguration, machine: inout VirtualMachineConfiguration, reservedTCPPorts: [Int],
        logger: Logger
    ) throws(CommandFailure) -> PodNetwork? {
        guard let configuration = settings.pod.network else { return nil }
        let network: PodNetwork
        do {
            let plan = try PodNetwork.plan(
                configuration, hostName: settings.pod.podName ?? machine.name, reservedTCPPorts: reservedTCPPorts)
            attachNIC(to: &machine, plan: plan)
            network = try PodNetwork.setUp(plan) { event in log(event, logger: logger) }
        } catch {
            throw CommandFailure(message: error.message, status: error.exitStatus)
        }
        let plan = network.plan
        let ports =
            plan.configuration.ports.map { list in
                list.isEmpty
                    ? "none" : list.map { "\($0.transport.rawValue.lowercased())/\($0.port)" }.joined(separator: ",")
            } ?? "all"
        logger.info(
            "pod network ready",
            metadata: [
                "interface": "\(plan.podInterface)", "pod_ip": "\(plan.podAddress)", "tap": "\(plan.configuration.tap)",
                "guest_ip": "\(plan.lease.address)", "gateway": "\(plan.lease.gateway)", "mtu": "\(plan.mtu)",
                "ports": "\(ports)", "dns": "\(plan.lease.dnsServers.map(\.description).joined(separator: ","))",
            ])
        return network
    }

    /// The NIC on the tap: the configuration's own (its MTU filled in) or a new one.
    static func attachNIC(to machine: inout VirtualMachineConfiguration, plan: PodNetwork.Plan) {
        if let index = machine.networkInterfaces.firstIndex(where: { $0.tap == plan.configuration.tap }) {
            if machine.networkInterfaces[index].mtu == nil { machine.networkInterfaces[index].mtu = plan.mtu }
        } else {
            machine.networkInterfaces.insert(
                NetworkInterfaceConfiguration(tap: plan.configuration.tap, mtu: plan.mtu), at: 0)
        }
    }

    /// At the end of a run: stops the DHCP server and logs its counters. The tap and the table
    /// stay: no capability is left to remove them (the process sandbox dropped them all); the
    /// pod's namespace holds them until the pod goes, and a restarted container reuses the tap
    /// and replaces the table.
    static func finish(_ network: PodNetwork?, logger: Logger) {
        guard let network else { return }
        let counters = counterMetadata(network)
        network.stopServices()
        logger.debug("pod network left in place", metadata: counters)
    }

    /// Removes what set-up made, when a later set-up step failed (the process still holds
    /// CAP_NET_ADMIN then).
    static func tearDown(_ network: PodNetwork?, logger: Logger) {
        guard let network else { return }
        let counters = counterMetadata(network)
        for problem in network.tearDown() { logger.debug("\(problem)") }
        logger.debug("pod network removed", metadata: counters)
    }

    /// The DHCP server's counters as log metadata.
    private static func counterMetadata(_ network: PodNetwork) -> Logger.Metadata {
        let counters = network.dhcpCounters
        return [
            "dhcp_acks": "\(counters.acks)", "dhcp_naks": "\(counters.naks)", "dhcp_malformed": "\(counters.malformed)",
        ]
    }

    /// One log line for a DHCP event (`DHCPService` reports a lease only when it changes, and
    /// refusals and malformed datagrams at most once per 10 s per kind, with how many it left
    /// out in between).
    static func log(_ event: DHCPService.Event, logger: Logger) {
        switch event {
        case .leased(let address, let mac):
            logger.info("guest leased its address", metadata: ["guest_ip": "\(address)", "mac": "\(mac)"])
        case .refused(let mac, let reason, let suppressed):
            logger.notice(
                "DHCP request refused",
                metadata: ["mac": "\(mac)", "reason": "\(reason)", "suppressed_since_last": "\(suppressed)"])
        case .malformed(let length, let suppressed):
            logger.debug(
                "DHCP: malformed datagram dropped",
                metadata: ["bytes": "\(length)", "suppressed_since_last": "\(suppressed)"])
        }
    }
}
