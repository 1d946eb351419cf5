import Foundation
import Testing

/// The pod is a boundary: a guest that attacks its pod (the firmware's UDP benchmark aimed at
/// what it must not reach, with a forged source, and a router advertisement) reaches only what
/// the pod exposes — DHCP, masqueraded traffic out of the pod's interface, the lease's DNS
/// server — and from outside only the declared ports reach it. Each attack is one launch in
/// the same fake pod: every launch after the first meets the tap and the table the previous
/// one left (a restarted container).
@Suite(
    .tags(.kvm, .slow),
    .serialized,
    .enabled(
        if: networkTestsPossible,
        "SKIPPED: needs /dev/kvm, /dev/net/tun and root (CAP_NET_ADMIN) for network namespaces"))
struct PodBoundaryTests {
    private var tools: URL { SwiftVMMBinary.repositoryRoot.appendingPathComponent("firmware/tools") }
    private let httpPort = 8181

    /// The launch configuration: DHCP, UDP echo on the one declared port (7), the endpoint on
    /// `httpPort`, and `commandLine` for the firmware.
    private func configuration(_ commandLine: String) -> String {
        #"{"cmdline": "fw.net=dhcp fw.udp-echo=7 \#(commandLine)", "pod": {"grace_seconds": 10, "#
            + #""http_listen": "0.0.0.0:\#(httpPort)", "network": {"ports": [{"port": 7, "protocol": "UDP"}]}}}"#
    }

    /// A UDP sink in `namespace` on `address`:`port` that waits `seconds` for a first datagram.
    private func sink(in namespace: NetworkNamespace, _ address: String, _ port: Int, seconds: Int = 8) throws
        -> RunningProcess
    {
        let process = try namespace.start([
            try HostTool.python3, tools.appendingPathComponent("udp-sink.py").path, "\(port)", "--bind", address,
            "--expect", "\(1 << 20)", "--wait", "\(seconds)", "--idle", "2",
        ])
        #expect(process.waitForOutput(containing: "listening", timeoutSeconds: 30))
        return process
    }

    /// Launches the guest with `commandLine`, waits until its benchmark has sent everything,
    /// then powers it off; returns its console.
    private func attack(_ fake: LaunchNetworkTests.FakePod, _ commandLine: String) throws -> String {
        let guest = try fake.launch(configuration(commandLine))
        let sent = guest.waitForOutput(containing: "fw~ net-bench end", timeoutSeconds: 90)
        #expect(sent, "the benchmark ran: \(guest.standardOutput.text) \(guest.standardError.text)")
        guest.send(SIGTERM)
        let (status, timedOut) = guest.waitForExit(timeoutSeconds: 30)
        #expect(!timedOut && status == 0, "\(guest.standardError.text)")
        return guest.standardOutput.text
    }

    /// `sink` got nothing.
    private func expectNothingArrived(_ sink: RunningProcess, _ what: String) {
        let (status, _) = sink.waitForExit(timeoutSeconds: 30)
        #expect(
            status == 1 && sink.standardOutput.text.contains("no datagram"),
            "\(what): \(sink.standardOutput.text)")
    }

    @Test func aGuestThatAttacksItsPodReachesNothingButWhatThePodExposes() throws {
        let ip = try HostTool.ip
        let fake = try LaunchNetworkTests.FakePod()
        // The node side holds a cloud metadata address and the cluster's DNS service.
        try fake.node.run([ip, "addr", "add", "169.254.169.254/32", "dev", "lo"])
        try fake.node.run([ip, "addr", "add", "10.96.0.10/32", "dev", "lo"])

        // A service of the pod itself (a sidecar on 0.0.0.0), through the gateway and the pod's IP.
        for target in ["10.0.2.1", fake.podAddress] {
            let listener = try sink(in: fake.pod, "0.0.0.0", 5001)
            _ = try attack(fake, "fw.net-bench=\(target):5001,1,1000")
            expectNothingArrived(listener, "a listener in the pod, through \(target)")
        }
        // The launcher's own port (its endpoint is TCP; a UDP listener on the same port stands in
        // for every protocol: the pod refuses them all from the tap).
        let endpoint = try sink(in: fake.pod, "0.0.0.0", httpPort)
        _ = try attack(fake, "fw.net-bench=10.0.2.1:\(httpPort),1,1000")
        expectNothingArrived(endpoint, "the launcher's port")
        // The cloud metadata address beyond the pod.
        let metadata = try sink(in: fake.node, "169.254.169.254", 5003)
        _ = try attack(fake, "fw.net-bench=169.254.169.254:5003,1,1000")
        expectNothingArrived(metadata, "169.254.169.254 on the node")
        // A forged source address, to the node.
        let forged = try sink(in: fake.node, "0.0.0.0", 5004)
        let console = try attack(fake, "fw.net-src=10.99.0.7 fw.net-bench=\(fake.nodeAddress):5004,1,1000")
        #expect(console.contains("fw~ net-bench: from the forged source 10.99.0.7"))
        expectNothingArrived(forged, "a forged source")

        // What the pod exposes still works, in one more run: the lease's DNS server (on the
        // node), the declared port and ping at the pod's address; a router advertisement from the
        // guest changes nothing in the pod; no thread of the launcher holds a capability.
        let dns = try sink(in: fake.node, "10.96.0.10", 53, seconds: 60)
        let guest = try fake.launch(configuration("fw.net-ra fw.net-bench=10.96.0.10:53,1,1000"))
        #expect(guest.waitForOutput(containing: "fw~ net-bench end", timeoutSeconds: 90), "\(guest.standardError.text)")
        #expect(guest.standardOutput.text.contains("fw: net0 sent a router advertisement for 2001:db8:5:1::/64"))
        let (dnsStatus, _) = dns.waitForExit(timeoutSeconds: 60)
        #expect(
            dnsStatus == 0 && dns.standardOutput.text.contains("bytes \(1 << 20) "),
            "the DNS server got the guest's datagrams: \(dns.standardOutput.text)")
        let ping = try HostTool.ping
        let replies = try fake.node.run([ping, "-c", "3", "-i", "0.2", "-W", "2", "-w", "20", fake.podAddress])
        #expect(replies.status == 0 && replies.output.contains("3 received"), "\(replies.output)")
        let echo = try fake.node.run([
            try HostTool.python3, tools.appendingPathComponent("udp-echo-check.py").path, fake.podAddress, "7",
        ])
        #expect(echo.status == 0, "the declared port: \(echo.output)")
        // A neighbour that routes the guest's subnet through the pod's address reaches nothing.
        try fake.node.run([ip, "route", "add", "10.0.2.0/24", "via", fake.podAddress])
        let direct = try fake.node.run([ping, "-c", "2", "-i", "0.2", "-W", "1", "10.0.2.2"])
        #expect(direct.output.contains("0 received"), "\(direct.output)")
        let directEcho = try fake.node.run([
            try HostTool.python3, tools.appendingPathComponent("udp-echo-check.py").path, "10.0.2.2", "7",
        ])
        #expect(directEcho.status != 0, "the guest's port 7 is reached only through the pod's address")
        // The router advertisement: no address or route from it, no IPv6 address at all on the tap.
        let addresses = try fake.pod.run([ip, "-6", "addr", "show"])
        #expect(!addresses.output.contains("2001:db8:5:1"), "\(addresses.output)")
        let tapAddresses = try fake.pod.run([ip, "-6", "addr", "show", "dev", "tap0"])
        #expect(!tapAddresses.output.contains("inet6"), "\(tapAddresses.output)")
        let routes = try fake.pod.run([ip, "-6", "route", "show"])
        #expect(!routes.output.contains("tap0"), "\(routes.output)")
        ThreadPrivileges.expectUnprivileged(guest.processIdentifier, including: ["dhcp", "NIO-", "vcpu0"])
        guest.send(SIGTERM)
        let (status, timedOut) = guest.waitForExit(timeoutSeconds: 30)
        #expect(!timedOut && status == 0, "\(guest.standardError.text)")
    }
}
