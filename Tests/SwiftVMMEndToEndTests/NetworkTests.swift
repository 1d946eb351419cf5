import Foundation
import Testing

private let networkTestsPossible =
    FileManager.default.isWritableFile(atPath: "/dev/kvm") && FileManager.default.fileExists(atPath: "/dev/net/tun")
    && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") && getuid() == 0

/// virtio-net through the binary and the firmware's responder, inside namespaces the tests create.
@Suite(
    .serialized,
    .enabled(
        if: networkTestsPossible,
        "SKIPPED: needs /dev/kvm, /dev/net/tun, iproute2 and root (CAP_NET_ADMIN) for network namespaces and taps"))
struct NetworkTests {
    private var tools: URL { SwiftVMMBinary.repositoryRoot.appendingPathComponent("firmware/tools") }

    @Test func pingAndUDPEchoAreAnsweredAndCounted() throws {
        let namespace = try NetworkNamespace()
        try namespace.addTap("tap0", address: "10.0.2.2/24")
        let guest = try namespace.start([
            SwiftVMMBinary.url.path, "run", "--net", "tap=tap0,mtu=1500", "--cmdline", "fw.net=10.0.2.15/24",
        ])
        #expect(guest.waitForOutput(containing: "fw: net ready", timeoutSeconds: 30), "\(guest.standardError.text)")
        let ping = try namespace.run(["ping", "-c", "20", "-i", "0.05", "-W", "2", "10.0.2.15"])
        #expect(ping.status == 0 && ping.output.contains("20 received"), "\(ping.output)")
        let echo = try namespace.run([
            "python3", tools.appendingPathComponent("udp-echo-check.py").path, "10.0.2.15", "7",
            "--sizes", "1,2,100,512,1000,1471,1472", "--counters",
        ])
        #expect(echo.status == 0, "\(echo.output)")
        guest.send(SIGTERM)
        let (status, timedOut) = guest.waitForExit(timeoutSeconds: 30)
        #expect(!timedOut && status == 0, "stderr: \(guest.standardError.text)")
        let counters = firmwareLines(guest.standardOutput.text).first { $0.hasPrefix("fw: net counters") } ?? ""
        #expect(counters.contains(" icmp 20 "), "the firmware answered exactly the 20 pings: \(counters)")
        #expect(counters.contains(" udp 7 "), "and the 7 echoes: \(counters)")
    }
}
