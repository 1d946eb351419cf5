import Foundation
import PodNetwork
import Testing

private let busybox = ["/bin/busybox", "/usr/bin/busybox"].first { FileManager.default.isExecutableFile(atPath: $0) }
private let possible =
    getuid() == 0 && busybox != nil && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
    || getuid() == 0 && busybox != nil && FileManager.default.isExecutableFile(atPath: "/sbin/ip")

/// The DHCP server against a real client: busybox udhcpc in a network namespace the test makes,
/// on a veth pair whose other end the server is bound to.
@Suite(
    .serialized,
    .enabled(
        if: possible,
        "SKIPPED: needs root (network namespaces, veth), iproute2 and busybox (Debian busybox-static)"))
struct DHCPClientTests {
    @Test func udhcpcGetsTheLeaseAndEveryOption() throws {
        let link = try VethNamespace(tag: "lease", serverAddress: "10.231.7.1/24")
        let lease = DHCPServer.Lease(
            address: IPv4Address("10.231.7.2")!, subnet: IPv4Subnet("10.231.7.0/24")!,
            gateway: IPv4Address("10.231.7.1")!, dnsServers: [IPv4Address("10.96.0.10")!, IPv4Address("10.96.0.11")!],
            searchDomains: ["tests.svc.cluster.local", "cluster.local"], mtu: 1400, hostName: "web-0",
            leaseSeconds: 600)
        let service = try DHCPService(interface: link.serverInterface, lease: lease)
        let events = EventLog()
        try service.start { events.append($0) }
        defer { service.stop() }
        let output = try link.runInNamespace([
            busybox!, "udhcpc", "-i", link.clientInterface, "-f", "-q", "-n", "-t", "5", "-T", "1", "-O", "search",
            "-O", "mtu", "-O", "hostname", "-O", "domain", "-O", "broadcast", "-s", link.script,
        ])
        let lines = Set(output.split(separator: "\n").map(String.init))
        for expected in [
            "ip=10.231.7.2", "subnet=255.255.255.0", "router=10.231.7.1", "dns=10.96.0.10 10.96.0.11",
            "domain=tests.svc.cluster.local", "search=tests.svc.cluster.local cluster.local", "mtu=1400",
            "hostname=web-0", "lease=600", "broadcast=10.231.7.255", "serverid=10.231.7.1",
        ] {
            #expect(lines.contains(expected), "udhcpc's environment lacks \(expected): \(output)")
        }
        let counters = service.counters
        #expect(counters.offers >= 1 && counters.acks >= 1 && counters.naks == 0 && counters.malformed == 0)
        #expect(
            events.all.contains { if case .leased(let address, _) = $0 { address == lease.address } else { false } })
    }
}

/// Events from the server's thread.
private final class EventLog: @unchecked Sendable {
    // SAFETY (@unchecked Sendable): every access holds `lock`.
    private let lock = NSLock()
    private var events: [DHCPService.Event] = []
    func append(_ event: DHCPService.Event) { lock.withLock { events.append(event) } }
    var all: [DHCPService.Event] { lock.withLock { events } }
}

/// A veth pair: one end here (the server's), the other in a namespace of its own (the client's).
final class VethNamespace {
    let namespace: String
    let serverInterface: String
    let clientInterface = "eth0"
    /// A udhcpc script that prints the variables udhcpc exports on `bound`.
    let script: String
    private let ip: String

    init(tag: String, serverAddress: String) throws {
        ip = ["/usr/sbin/ip", "/sbin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }!
        let id = "\(getpid() % 100_000)"
        namespace = "svmm-\(tag)-\(id)"
        serverInterface = "svd\(id)"
        script = NSTemporaryDirectory() + "udhcpc-\(id).sh"
        try
            "#!/bin/sh\n[ \"$1\" = bound ] && for v in ip subnet router dns domain search mtu hostname lease broadcast serverid; do eval echo \"$v=\\$$v\"; done\nexit 0\n"
            .write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        _ = try? Self.run(ip, ["netns", "del", namespace])
        _ = try? Self.run(ip, ["link", "del", serverInterface])
        try Self.run(ip, ["netns", "add", namespace])
        try Self.run(
            ip, ["link", "add", serverInterface, "type", "veth", "peer", "name", clientInterface, "netns", namespace])
        try Self.run(ip, ["addr", "add", serverAddress, "dev", serverInterface])
        try Self.run(ip, ["link", "set", serverInterface, "up"])
        try Self.run(ip, ["-n", namespace, "link", "set", clientInterface, "up"])
    }

    deinit {
        _ = try? Self.run(ip, ["link", "del", serverInterface])
        _ = try? Self.run(ip, ["netns", "del", namespace])
        try? FileManager.default.removeItem(atPath: script)
    }

    /// Runs `arguments` in the namespace; its standard output.
    func runInNamespace(_ arguments: [String]) throws -> String {
        try Self.run(ip, ["netns", "exec", namespace] + arguments)
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw NSError(
                domain: "VethNamespace", code: Int(process.terminationStatus),
                userInfo: [NSLocalizedDescriptionKey: "\(executable) \(arguments.joined(separator: " ")): \(text)"])
        }
        return text
    }
}
