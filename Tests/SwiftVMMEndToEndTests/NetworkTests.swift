import Foundation
import Testing

/// virtio-net through the binary and the firmware's responder, inside namespaces the tests create.
@Suite(
    .tags(.kvm),
    .serialized,
    .enabled(
        if: networkTestsPossible,
        "SKIPPED: needs /dev/kvm, /dev/net/tun and root (CAP_NET_ADMIN) for network namespaces and taps"))
struct NetworkTests {
    private var tools: URL { SwiftVMMBinary.repositoryRoot.appendingPathComponent("firmware/tools") }

    /// Also with VIRTIO_NET_F_MRG_RXBUF: the firmware posts 128-byte receive buffers
    /// (fw.net-rx-buffer=128), so every frame over 116 bytes arrives spread over several of them
    /// and is joined back.
    @Test(arguments: [nil, 128])
    func pingAndUDPEchoAreAnsweredAndCounted(receiveBufferBytes: Int?) throws {
        let ping = try HostTool.ping
        let python3 = try HostTool.python3
        let namespace = try NetworkNamespace()
        try namespace.addTap("tap0", address: "10.0.2.2/24")
        let merged = receiveBufferBytes.map { " fw.net-rx-buffer=\($0)" } ?? ""
        let guest = try namespace.start([
            SwiftVMMBinary.url.path, "run", "--net", "tap=tap0,mtu=1500", "--cmdline", "fw.net=10.0.2.15/24" + merged,
        ])
        #expect(guest.waitForOutput(containing: "fw: net ready", timeoutSeconds: 30), "\(guest.standardError.text)")
        if let receiveBufferBytes {
            #expect(
                guest.standardOutput.text.contains("fw~ net0: mergeable receive buffers of \(receiveBufferBytes) bytes")
            )
        }
        let replies = try namespace.run([
            ping, "-c", "20", "-i", "0.05", "-s", "1400", "-W", "2", "-w", "20", "10.0.2.15",
        ])
        #expect(replies.status == 0 && replies.output.contains("20 received"), "\(replies.output)")
        let echo = try namespace.run([
            python3, tools.appendingPathComponent("udp-echo-check.py").path, "10.0.2.15", "7",
            "--sizes", "1,2,100,512,1000,1471,1472", "--counters",
        ])
        #expect(echo.status == 0, "\(echo.output)")
        guest.send(SIGTERM)
        let (status, timedOut) = guest.waitForExit(timeoutSeconds: 30)
        #expect(!timedOut && status == 0, "stderr: \(guest.standardError.text)")
        let counters = firmwareLines(guest.standardOutput.text).first { $0.hasPrefix("fw: net counters") } ?? ""
        #expect(counters.contains(" icmp 20 "), "the firmware answered exactly the 20 pings: \(counters)")
        #expect(counters.contains(" udp 7 "), "and the 7 echoes: \(counters)")
        if receiveBufferBytes != nil {
            let count = counters.split(separator: " ").drop { $0 != "merged" }.dropFirst().first.flatMap { Int($0) }
            #expect((count ?? 0) >= 20 + 5, "the pings and the 5 datagrams over 116 bytes came merged: \(counters)")
        }
    }

    /// Frames the host kernel forwards from another interface as checksum-valid reach the tap
    /// with VIRTIO_NET_HDR_F_DATA_VALID; the firmware negotiates no GUEST_CSUM, so it must see
    /// flags 0 (it stops with `net0 FAIL received header flags 0x2` otherwise) and answers.
    @Test func framesTheHostForwardsAsChecksumValidArriveWithFlagsZero() throws {
        let python3 = try HostTool.python3
        let namespace = try NetworkNamespace()
        try namespace.addTap("tap0", address: "10.0.2.2/24")
        let guest = try namespace.start([
            SwiftVMMBinary.url.path, "run", "--net", "tap=tap0", "--cmdline", "fw.net=10.0.2.15/24",
        ])
        #expect(guest.waitForOutput(containing: "fw: net ready", timeoutSeconds: 30), "\(guest.standardError.text)")
        let echo = try namespace.run([
            python3, tools.appendingPathComponent("forwarded-echo.py").path, "10.0.2.15", "7", "--ip", namespace.ip,
        ])
        #expect(echo.status == 0 && echo.output.contains("echoed 5 of 5"), "\(echo.output)")
        #expect(!guest.standardOutput.text.contains("FAIL"), "\(guest.standardOutput.text)")
        guest.send(SIGTERM)
        let (status, timedOut) = guest.waitForExit(timeoutSeconds: 30)
        #expect(!timedOut && status == 0, "stderr: \(guest.standardError.text)")
        let counters = firmwareLines(guest.standardOutput.text).first { $0.hasPrefix("fw: net counters") } ?? ""
        #expect(counters.contains(" udp 5 "), "\(counters)")
    }

    /// The receive benchmark's parts: the firmware's sink counts what udp-blast.py sends it.
    @Test func theReceiveSinkCountsAHostStream() throws {
        let python3 = try HostTool.python3
        let namespace = try NetworkNamespace()
        try namespace.addTap("tap0", address: "10.0.2.2/24")
        let guest = try namespace.start([
            SwiftVMMBinary.url.path, "run", "--net", "tap=tap0", "--cmdline", "fw.net=10.0.2.15/24 fw.net-sink=5002",
        ])
        #expect(guest.waitForOutput(containing: "fw: net ready", timeoutSeconds: 30), "\(guest.standardError.text)")
        let blast = try namespace.run([
            python3, tools.appendingPathComponent("udp-blast.py").path, "10.0.2.15", "5002", "--mib", "1",
        ])
        #expect(blast.status == 0, "\(blast.output)")
        let fields = blast.output.split(separator: " ")
        let received = fields.drop { $0 != "received" }.dropFirst().first.flatMap { Int($0) } ?? 0
        let sent = fields.drop { $0 != "sent" }.dropFirst().first.flatMap { Int($0) } ?? 0
        #expect(sent == 748 && received > 0 && received <= sent, "\(blast.output)")
        guest.send(SIGTERM)
        #expect(guest.waitForExit(timeoutSeconds: 30).status == 0)
        let counters = firmwareLines(guest.standardOutput.text).first { $0.hasPrefix("fw: net counters") } ?? ""
        #expect(counters.contains(" sink \(received) \(received * 1400)"), "\(counters) vs \(blast.output)")
    }

    @Test func twoInterfacesOnTwoTaps() throws {
        let ping = try HostTool.ping
        let namespace = try NetworkNamespace()
        try namespace.addTap("tapa", address: "10.0.2.2/24")
        try namespace.addTap("tapb", address: "10.0.3.2/24")
        // The responder answers on the guest's first interface: boot twice, each tap first once.
        for (first, second, subnet) in [("tapa", "tapb", "10.0.2"), ("tapb", "tapa", "10.0.3")] {
            let guest = try namespace.start([
                SwiftVMMBinary.url.path, "run", "--net", "tap=\(first)", "--net", "tap=\(second)",
                "--cmdline", "fw.net=\(subnet).15/24",
            ])
            #expect(guest.waitForOutput(containing: "fw: net ready", timeoutSeconds: 30))
            let devices = guest.standardOutput.text.split(separator: "\n").filter {
                $0.hasPrefix("fw~ virtio-mmio:") && $0.hasSuffix("device 1 version 2")
            }
            #expect(devices.count == 2, "both interfaces are there: \(devices)")
            let replies = try namespace.run([ping, "-c", "5", "-i", "0.05", "-W", "2", "-w", "20", "\(subnet).15"])
            #expect(replies.output.contains("5 received"), "\(first): \(replies.output)")
            guest.send(SIGTERM)
            #expect(guest.waitForExit(timeoutSeconds: 30).status == 0)
        }
    }

    /// While the guest has no receive buffers the I/O thread stops reading the tap and sleeps
    /// (the tap queues frames); once the guest takes frames again, traffic flows.
    @Test func theIOThreadSleepsWhileTheGuestPostsNoReceiveBuffers() throws {
        let ping = try HostTool.ping
        let python3 = try HostTool.python3
        let namespace = try NetworkNamespace()
        try namespace.addTap("tap0", address: "10.0.2.2/24")
        let guest = try namespace.start([
            SwiftVMMBinary.url.path, "run", "--net", "tap=tap0,mac=02:00:00:00:00:42", "--cmdline",
            "fw.net=10.0.2.15/24 fw.net-rx-pause=20000",
        ])
        #expect(guest.waitForOutput(containing: "fw: net rx paused", timeoutSeconds: 30))
        // The paused guest answers no ARP: tell the host its MAC so that the datagrams go out.
        let neighbor = try namespace.run([
            namespace.ip, "neigh", "replace", "10.0.2.15", "lladdr", "02:00:00:00:00:42", "dev", "tap0",
        ])
        #expect(neighbor.status == 0, "\(neighbor.output)")
        // Fill the guest's 256 receive buffers, then keep frames coming while measuring.
        let flood = try namespace.start([
            python3, "-c",
            "import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                + "end=time.time()+3\nwhile time.time()<end:\n s.sendto(b'x'*100,('10.0.2.15',9999))\n time.sleep(0.0005)",
        ])
        Thread.sleep(forTimeInterval: 0.5)
        let ioThread = try #require(Self.thread(named: "vmm-io", of: guest.processIdentifier))
        let before = try Self.cpuTicks(of: ioThread, in: guest.processIdentifier)
        Thread.sleep(forTimeInterval: 2)
        let after = try Self.cpuTicks(of: ioThread, in: guest.processIdentifier)
        _ = flood.waitForExit(timeoutSeconds: 10)
        // The tap took the first frames into the guest's buffers and had to drop the rest: the
        // guest really had no buffers while the I/O thread was measured.
        let link = try namespace.run([namespace.ip, "-s", "link", "show", "tap0"]).output
        let transmitted = link.split(separator: "\n").drop { !$0.contains("TX:") }.dropFirst().first ?? ""
        let counts = transmitted.split(separator: " ").compactMap { Int($0) }
        #expect(counts.count >= 4 && counts[1] >= 256 && counts[3] > 0, "tap TX packets and drops: \(link)")
        #expect(after - before <= 4, "the I/O thread used \(after - before) ticks (of 200) in 2 s")
        #expect(guest.waitForOutput(containing: "fw: net rx resumed", timeoutSeconds: 60))
        let replies = try namespace.run([ping, "-c", "5", "-i", "0.05", "-W", "2", "-w", "20", "10.0.2.15"])
        #expect(replies.output.contains("5 received"), "traffic flows again: \(replies.output)")
        guest.send(SIGTERM)
        let (status, _) = guest.waitForExit(timeoutSeconds: 30)
        #expect(status == 0)
    }

    /// The thread id of the thread named `name` in process `pid`.
    static func thread(named name: String, of pid: Int32) -> String? {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.first { task in
            let comm = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/comm", encoding: .utf8)) ?? ""
            return comm.trimmingCharacters(in: .whitespacesAndNewlines) == name
        }
    }

    /// utime + stime of thread `tid` (clock ticks).
    static func cpuTicks(of tid: String, in pid: Int32) throws -> Int {
        let stat = try String(contentsOfFile: "/proc/\(pid)/task/\(tid)/stat", encoding: .utf8)
        // Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15.
        let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
        return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    }

    @Test func badNetworkOptionsAndMissingPrivilegesAreOneLineErrors() throws {
        for (arguments, status, word) in [
            (["--net", "tap=t0,mac=02:00:00:00:00"], Int32(10), "mac"),
            (["--net", "tap=t0,mac=03:00:00:00:00:01"], 10, "unicast"),
            (["--net", "tap=t0,mtu=40"], 10, "mtu"),
            (["--net", "tap=t0,mtu=lots"], 10, "mtu"),
            (["--net", "mac=02:00:00:00:00:01"], 10, "tap=NAME"),
            (["--net", "tap=a-name-that-is-far-too-long"], 10, "tap"),
        ] {
            let result = try SwiftVMMBinary.run(["run"] + arguments)
            #expect(result.status == status, "\(arguments): \(result.standardError)")
            #expect(result.errorLines.count == 1 && result.standardError.contains(word), "\(arguments)")
        }
        // Without CAP_NET_ADMIN (a user namespace has none over the host's network): status 15.
        let unprivileged = try RunningProcess(
            executable: URL(fileURLWithPath: HostTool.unshare),
            arguments: ["--user", SwiftVMMBinary.url.path, "run", "--net", "tap=svmmtest0"])
        let (status, _) = unprivileged.waitForExit(timeoutSeconds: 30)
        #expect(status == 15, "\(unprivileged.standardError.text)")
        #expect(unprivileged.standardError.text.contains("CAP_NET_ADMIN"))
        // Without /dev/net/tun (hidden in a private mount namespace): status 15 as well.
        let noTun = try RunningProcess(
            executable: URL(fileURLWithPath: HostTool.unshare),
            arguments: [
                "--mount", "sh", "-c", "mount -t tmpfs none /dev/net && exec \"$0\" run --net tap=svmmtest0",
                SwiftVMMBinary.url.path,
            ])
        let (noTunStatus, _) = noTun.waitForExit(timeoutSeconds: 30)
        #expect(noTunStatus == 15, "\(noTun.standardError.text)")
        #expect(noTun.standardError.text.contains("/dev/net/tun"))
    }
}
