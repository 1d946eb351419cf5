import EmbeddedFirmware
import Foundation
import Testing

/// `serve` with a network interface put through the API, on a tap in a namespace the test owns.
@Suite(
    .tags(.kvm),
    .serialized,
    .enabled(
        if: networkTestsPossible,
        "SKIPPED: needs /dev/kvm, /dev/net/tun and root (CAP_NET_ADMIN) for network namespaces and taps"))
struct FirecrackerServeNetworkTests {
    @Test func aNetworkInterfacePutThroughTheAPIAnswersPingsAndIsCounted() throws {
        let ping = try HostTool.ping
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftvmm-serve-net-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let kernel = directory.appendingPathComponent("firmware.elf").path
        FileManager.default.createFile(atPath: kernel, contents: Data(EmbeddedFirmware.elf))
        let socket = directory.appendingPathComponent("api.sock").path
        let metrics = directory.appendingPathComponent("metrics.json").path
        let namespace = try NetworkNamespace()
        try namespace.addTap("fctap0", address: "10.0.4.2/24")
        let process = try namespace.start([SwiftVMMBinary.url.path, "serve", "--api-sock", socket])
        let api = FirecrackerAPIClient(socketPath: socket)
        #expect(try api.waitUntilServing(), "\(process.standardError.text)")
        #expect(
            try api.call(
                "PUT", "/boot-source",
                #"{"kernel_image_path": "\#(kernel)", "boot_args": "console=ttyS0 fw.net=10.0.4.15/24"}"#
            ).0 == 204)
        #expect(
            try api.call(
                "PUT", "/network-interfaces/eth0",
                #"{"iface_id": "eth0", "host_dev_name": "fctap0", "guest_mac": "06:00:0a:00:04:0f", "mtu": 1500}"#
            ) == (204, ""))
        #expect(try api.call("PUT", "/metrics", #"{"metrics_path": "\#(metrics)"}"#).0 == 204)
        #expect(try api.call("PUT", "/actions", #"{"action_type": "InstanceStart"}"#).0 == 204)
        #expect(process.waitForOutput(containing: "fw: net ready", timeoutSeconds: 30), "\(process.standardError.text)")
        #expect(process.standardOutput.text.contains("06:00:0a:00:04:0f"), "the MAC from the API")
        let replies = try namespace.run([ping, "-c", "10", "-i", "0.05", "-W", "2", "-w", "20", "10.0.4.15"])
        #expect(replies.status == 0 && replies.output.contains("10 received"), "\(replies.output)")
        #expect(try api.call("PATCH", "/network-interfaces/eth0", #"{"iface_id": "eth0"}"#) == (204, ""))
        #expect(
            try api.fault("PATCH", "/network-interfaces/eth0", #"{"iface_id": "eth0", "rx_rate_limiter": {}}"#)
                == "SwiftVMM does not support network rate limiters yet.")
        #expect(try api.fault("PATCH", "/network-interfaces/eth9", #"{"iface_id": "eth9"}"#).contains("not found"))
        #expect(try api.call("PUT", "/actions", #"{"action_type": "FlushMetrics"}"#).0 == 204)
        let line = ((try? String(contentsOfFile: metrics, encoding: .utf8)) ?? "").split(separator: "\n").last ?? ""
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        let nic = object?["net_eth0"] as? [String: Int]
        #expect((nic?["rx_packets_count"] ?? 0) >= 10 && (nic?["tx_packets_count"] ?? 0) >= 10, "\(line)")
        #expect(try api.call("PUT", "/actions", #"{"action_type": "SendCtrlAltDel"}"#).0 == 204)
        let (exit, timedOut) = process.waitForExit(timeoutSeconds: 30)
        #expect(!timedOut && exit == 0, "\(process.standardError.text)")
    }
}
