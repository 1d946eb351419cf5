import Foundation
import Testing

/// `swiftvmm launch`'s pod network in a pod made of two network namespaces the test creates: a
/// "node" and a "pod" joined by a veth pair (the pod's eth0, as a CNI plugin gives it), with
/// forwarding on in the pod and a resolv.conf of its own. The firmware takes its address by DHCP;
/// ping and UDP reach it at the pod's address, and its traffic leaves with the pod's address.
@Suite(
    .tags(.kvm),
    .serialized,
    .enabled(
        if: networkTestsPossible,
        "SKIPPED: needs /dev/kvm, /dev/net/tun and root (CAP_NET_ADMIN) for network namespaces"))
struct LaunchNetworkTests {
    private var tools: URL { SwiftVMMBinary.repositoryRoot.appendingPathComponent("firmware/tools") }

    /// The node and the pod, joined: node 10.201.0.1, pod eth0 10.201.0.2 (default route via the node).
    final class FakePod {
        let node: NetworkNamespace
        let pod: NetworkNamespace
        let resolvConfDirectory: String
        let podAddress = "10.201.0.2"
        let nodeAddress: String

        init(forwarding: Bool = true, podAddress: String? = nil, nodeAddress: String = "10.201.0.1") throws {
            self.nodeAddress = nodeAddress
            node = try NetworkNamespace()
            pod = try NetworkNamespace()
            let ip = try HostTool.ip
            let veth = "svn\(getpid() % 100_000)"
            let created = try RunningProcess(
                executable: URL(fileURLWithPath: ip),
                arguments: [
                    "link", "add", veth, "netns", node.name, "type", "veth", "peer", "name", "eth0", "netns", pod.name,
                ])
            #expect(created.waitForExit(timeoutSeconds: 30).status == 0, "\(created.standardError.text)")
            try node.run([ip, "addr", "add", "\(nodeAddress)/24", "dev", veth])
            try node.run([ip, "link", "set", veth, "up"])
            try pod.run([ip, "addr", "add", "\(podAddress ?? self.podAddress)/24", "dev", "eth0"])
            try pod.run([ip, "link", "set", "eth0", "up"])
            try pod.run([ip, "route", "add", "default", "via", nodeAddress])
            try pod.run(["/bin/sh", "-c", "echo \(forwarding ? 1 : 0) > /proc/sys/net/ipv4/ip_forward"])
            // `ip netns exec` bind-mounts /etc/netns/NAME/resolv.conf over /etc/resolv.conf.
            resolvConfDirectory = "/etc/netns/\(pod.name)"
            try FileManager.default.createDirectory(atPath: resolvConfDirectory, withIntermediateDirectories: true)
            try "search tests.svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"
                .write(toFile: resolvConfDirectory + "/resolv.conf", atomically: true, encoding: .utf8)
        }

        deinit { try? FileManager.default.removeItem(atPath: resolvConfDirectory) }

        /// `swiftvmm launch` in the pod with `json` as its configuration file.
        func launch(_ json: String) throws -> RunningProcess {
            let path = try LaunchTests.launchConfiguration(json, pod: [:])
            return try pod.start([
                "/usr/bin/env", "SWIFTVMM_POD_NAME=web-0", "SWIFTVMM_POD_NAMESPACE=tests", SwiftVMMBinary.url.path,
                "launch", "--config", path, "--log-level", "debug",
            ])
        }
    }

    @Test func theGuestLeasesItsAddressAndIsReachedThroughThePodAddress() throws {
        let ping = try HostTool.ping
        let python3 = try HostTool.python3
        let fake = try FakePod()
        let sink = try fake.node.start([
            python3, tools.appendingPathComponent("udp-sink.py").path, "5001", "--expect", "\(1 << 20)", "--wait", "60",
        ])
        #expect(sink.waitForOutput(containing: "listening", timeoutSeconds: 30))
        let guest = try fake.launch(
            #"{"cmdline": "fw.net=dhcp fw.udp-echo=7 fw.net-bench=10.201.0.1:5001,1,1000", "#
                + #""pod": {"grace_seconds": 10, "network": {"ports": [{"port": 7, "protocol": "UDP"}, "#
                + #"{"port": 9, "protocol": "UDP"}]}}}"#)
        #expect(guest.waitForOutput(containing: "fw: net ready", timeoutSeconds: 60), "\(guest.standardError.text)")
        let console = guest.standardOutput.text
        for line in [
            "fw: net0 dhcp lease 10.0.2.2/24 router 10.0.2.1 server 10.0.2.1 lease 86400 s",
            "fw~ net0 dhcp dns 10.96.0.10", "fw~ net0 dhcp search tests.svc.cluster.local cluster.local",
            "fw~ net0 dhcp domain tests.svc.cluster.local", "fw~ net0 dhcp mtu 1500", "fw~ net0 dhcp hostname web-0",
        ] {
            #expect(console.contains(line), "console lacks '\(line)'")
        }
        // The guest's datagrams reached the node (only the pod's address is routable there: the
        // node has no route to 10.0.2.0/24, so they left the pod masqueraded).
        let (sinkStatus, _) = sink.waitForExit(timeoutSeconds: 60)
        #expect(
            sinkStatus == 0 && sink.standardOutput.text.contains("bytes \(1 << 20) "), "\(sink.standardOutput.text)")
        // Ping and UDP echo at the pod's address reach the guest (its counters say so).
        let replies = try fake.node.run([ping, "-c", "5", "-i", "0.1", "-W", "2", "-w", "20", fake.podAddress])
        #expect(replies.status == 0 && replies.output.contains("5 received"), "\(replies.output)")
        let echo = try fake.node.run([
            python3, tools.appendingPathComponent("udp-echo-check.py").path, fake.podAddress, "7", "--counters",
        ])
        #expect(echo.status == 0, "\(echo.output)")
        guest.send(SIGTERM)
        let (status, timedOut) = guest.waitForExit(timeoutSeconds: 30)
        #expect(!timedOut && status == 0, "\(guest.standardError.text)")
        let counters = firmwareLines(guest.standardOutput.text).first { $0.hasPrefix("fw: net counters") } ?? ""
        #expect(counters.contains(" icmp 5 "), "the guest answered the pings itself: \(counters)")
        #expect(counters.contains(" dhcp "), "\(counters)")
        let log = guest.standardError.text
        #expect(log.contains(#""message":"pod network ready""#) && log.contains(#""pod_ip":"10.201.0.2""#), "\(log)")
        #expect(log.contains(#""message":"guest leased its address""#) && log.contains(#""guest_ip":"10.0.2.2""#))
        // Left at exit: the process holds no capability then (PodBoundaryTests launches again and
        // again in one pod: each start reuses the tap and replaces the table).
        let links = try fake.pod.run([try HostTool.ip, "-o", "link"])
        #expect(links.output.contains("tap0"), "\(links.output) \(guest.standardError.text)")
    }

    @Test func forwardingOffIsStatus18WithWhatTheNodeMustProvide() throws {
        let fake = try FakePod(forwarding: false)
        let guest = try fake.launch(#"{"cmdline": "fw.net=dhcp", "pod": {"network": {}}}"#)
        let (status, _) = guest.waitForExit(timeoutSeconds: 30)
        #expect(status == 18, "\(guest.standardError.text)")
        let lines = guest.standardError.text.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("net.ipv4.ip_forward=1"), "\(lines)")
        #expect(guest.standardOutput.text.isEmpty, "no guest started")
    }

    @Test func aSubnetHoldingThePodAddressIsRefusedAndNothingIsLeft() throws {
        let fake = try FakePod(podAddress: "10.0.2.9", nodeAddress: "10.0.2.254")
        let guest = try fake.launch(#"{"cmdline": "fw.net=dhcp", "pod": {"network": {}}}"#)
        let (status, _) = guest.waitForExit(timeoutSeconds: 30)
        #expect(
            status == 18 && guest.standardError.text.contains("holds the pod's own address 10.0.2.9"),
            "\(guest.standardError.text)")
        let links = try fake.pod.run([try HostTool.ip, "-o", "link"])
        #expect(!links.output.contains("tap0"))
    }

    /// A failure after the tap and the rules exist (the machine cannot be built: a missing disk)
    /// removes them again.
    @Test func aLaterFailureUndoesTheNetwork() throws {
        let fake = try FakePod()
        let guest = try fake.launch(
            #"{"cmdline": "fw.net=dhcp", "disks": [{"path": "/nonexistent/disk.img"}], "pod": {"network": {}}}"#)
        let (status, _) = guest.waitForExit(timeoutSeconds: 30)
        #expect(status == 11, "\(guest.standardError.text)")
        let links = try fake.pod.run([try HostTool.ip, "-o", "link"])
        #expect(!links.output.contains("tap0"), "\(links.output) \(guest.standardError.text)")
    }
}
