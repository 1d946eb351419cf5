import Foundation
import Testing

/// The HTTP endpoint of `run` and `launch`: /metrics parsed by a real Prometheus parser
/// (prometheus_client, through scripts/parse-metrics.py) and checked against what the guest
/// did; /readyz by each readiness rule; /healthz; bad endpoint settings.
@Suite(.serialized, .enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
struct ObservabilityEndpointTests {
    /// A port for this test, from the pid (tests of one run are serialized).
    private static func port(_ offset: Int) -> Int { 20_000 + Int(getpid() % 20_000) + offset }

    /// GET `url`: (HTTP status, body).
    static func get(_ url: String, accept: String? = nil, in namespace: NetworkNamespace? = nil) throws -> (Int, String)
    {
        let curl = try HostTool.require("curl", package: "curl")
        var arguments = ["-s", "-m", "5", "-w", "\n%{http_code}", url]
        if let accept { arguments += ["-H", "Accept: \(accept)"] }
        let output: String
        if let namespace {
            output = try namespace.run([curl] + arguments).output
        } else {
            let process = try RunningProcess(executable: URL(fileURLWithPath: curl), arguments: arguments)
            _ = process.waitForExit(timeoutSeconds: 30)
            output = process.standardOutput.text
        }
        // curl's -w adds "\n" and the status after the body.
        guard let newline = output.lastIndex(of: "\n") else { return (Int(output) ?? 0, "") }
        return (Int(output[output.index(after: newline)...]) ?? 0, String(output[..<newline]))
    }

    /// The page's samples, parsed by prometheus_client: "name{label=value,...}" → value.
    static func samples(_ page: String, openMetrics: Bool = false) throws -> [String: Double] {
        // Debian's python3 (/usr/bin/python3, the script's #!) has python3-prometheus-client.
        let script = SwiftVMMBinary.repositoryRoot.appendingPathComponent("scripts/parse-metrics.py")
        let process = Process()
        process.executableURL = script
        process.arguments = openMetrics ? ["--openmetrics"] : []
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(page.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let problem = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "the page does not parse: \(problem)\n\(page)")
        return try JSONDecoder().decode([String: Double].self, from: data)
    }

    @Test func diskMetricsMatchTheRequestsTheFirmwareMade() throws {
        let disks = try ScratchDisks()
        let image = try disks.image("metrics.img", mebibytes: 1)
        let port = Self.port(1)
        let guest = try RunningProcess(
            executable: SwiftVMMBinary.url,
            arguments: [
                "run", "--http", "127.0.0.1:\(port)", "--disk", "path=\(image)",
                "--cmdline", "fw.test=blk fw.blk-mib=1 fw.wait=button",
            ])
        #expect(guest.waitForOutput(containing: "fw: waiting for the power button", timeoutSeconds: 60))
        let (status, page) = try Self.get("http://127.0.0.1:\(port)/metrics")
        #expect(status == 200)
        let metrics = try Self.samples(page)
        // "fw~ blk0: W write and R read requests" (the data pass); then the zero check's read and
        // the past-end read (IOERR) are reads too; a flush after the writes and one after write-zeroes.
        let line = guest.standardOutput.text.split(separator: "\n").first { $0.contains(" read requests") } ?? ""
        let numbers = line.split(separator: " ").compactMap { Double($0) }
        try #require(numbers.count == 2, "\(line)")
        #expect(metrics["swiftvmm_disk_requests_total{disk=disk0,op=write}"] == numbers[0])
        #expect(metrics["swiftvmm_disk_requests_total{disk=disk0,op=read}"] == numbers[1] + 2)
        #expect(metrics["swiftvmm_disk_requests_total{disk=disk0,op=flush}"] == 2)
        #expect(metrics["swiftvmm_disk_errors_total{disk=disk0}"] == 1, "the past-end read")
        #expect(metrics["swiftvmm_disk_engine_info{disk=disk0,engine=io_uring}"] == 1, "aio auto took io_uring")
        #expect(metrics["swiftvmm_disk_bytes_total{disk=disk0,op=write}"] == Double(1 << 20))
        let total = metrics.filter { $0.key.hasPrefix("swiftvmm_disk_requests_total{") }.values.reduce(0, +)
        #expect(metrics["swiftvmm_disk_request_duration_seconds_count{disk=disk0}"] == total)
        #expect(metrics["swiftvmm_disk_request_duration_seconds_bucket{disk=disk0,le=+Inf}"] == total)
        #expect((metrics["swiftvmm_vcpu_exits_total{reason=port_out,vcpu=0}"] ?? 0) > 0, "console output")
        #expect((metrics["swiftvmm_vcpu_exits_total{reason=mmio_write,vcpu=0}"] ?? 0) > 0, "virtio registers")
        #expect((metrics["swiftvmm_vcpu_run_seconds_total{vcpu=0}"] ?? 0) > 0)
        #expect(metrics["swiftvmm_guest_state{state=running}"] == 1)
        #expect(metrics["swiftvmm_guest_memory_bytes{}"] == Double(128 << 20))
        #expect((metrics["swiftvmm_process_resident_memory_bytes{}"] ?? 0) > 0)
        #expect((metrics["swiftvmm_guest_boot_seconds{}"] ?? 0) > 0)
        // The same page as OpenMetrics, through the OpenMetrics parser.
        let (_, openMetrics) = try Self.get(
            "http://127.0.0.1:\(port)/metrics", accept: "application/openmetrics-text; version=1.0.0")
        #expect(openMetrics.hasSuffix("# EOF\n"))
        let parsed = try Self.samples(openMetrics, openMetrics: true)
        #expect(parsed["swiftvmm_disk_requests_total{disk=disk0,op=write}"] == numbers[0])
        guest.send(SIGTERM)
        #expect(guest.waitForExit(timeoutSeconds: 30).status == 0)
    }

    @Test(.enabled(if: networkTestsPossible, "SKIPPED: needs root and /dev/net/tun for a namespace and a tap"))
    func networkMetricsCountWhatTheFirmwareSent() throws {
        let python3 = try HostTool.python3
        let namespace = try NetworkNamespace()
        try namespace.addTap("tap0", address: "10.0.2.2/24")
        let tools = SwiftVMMBinary.repositoryRoot.appendingPathComponent("firmware/tools")
        let sink = try namespace.start([
            python3, tools.appendingPathComponent("udp-sink.py").path, "5001", "--expect", "\(1 << 20)", "--wait", "60",
        ])
        #expect(sink.waitForOutput(containing: "listening", timeoutSeconds: 30))
        let port = Self.port(2)
        let guest = try namespace.start([
            SwiftVMMBinary.url.path, "run", "--http", "127.0.0.1:\(port)", "--net", "tap=tap0",
            "--cmdline", "fw.net=10.0.2.15/24 fw.net-bench=10.0.2.2:5001,1,1000",
        ])
        #expect(sink.waitForExit(timeoutSeconds: 60).status == 0, "\(sink.standardOutput.text)")
        #expect(guest.waitForOutput(containing: "fw: net ready", timeoutSeconds: 60))
        let (_, page) = try Self.get("http://127.0.0.1:\(port)/metrics", in: namespace)
        let metrics = try Self.samples(page)
        // 1 MiB of payload in 1000-byte datagrams: 1049 datagrams of 1042 Ethernet bytes (the
        // last one shorter), plus the ARP request.
        let datagrams = ((1 << 20) + 999) / 1000
        let packets = metrics["swiftvmm_net_packets_total{direction=tx,nic=tap0}"] ?? 0
        let bytes = metrics["swiftvmm_net_bytes_total{direction=tx,nic=tap0}"] ?? 0
        #expect(packets >= Double(datagrams) && packets <= Double(datagrams + 8), "\(packets)")
        #expect(bytes >= Double((1 << 20) + 42 * datagrams) && bytes <= Double((1 << 20) + 42 * datagrams + 8 * 64))
        #expect((metrics["swiftvmm_net_packets_total{direction=rx,nic=tap0}"] ?? 0) >= 1, "the ARP reply")
        #expect(metrics["swiftvmm_net_dropped_total{nic=tap0,reason=tx_refused}"] == 0)
        guest.send(SIGTERM)
        #expect(guest.waitForExit(timeoutSeconds: 30).status == 0)
    }

    /// The firmware prints a tick line every 20–30 ms: /readyz is 503 until the 100th (about
    /// 2.5 s), then 200.
    @Test func readyzFollowsTheConsoleRule() throws {
        let port = Self.port(3)
        let guest = try RunningProcess(
            executable: SwiftVMMBinary.url,
            arguments: [
                "run", "--http", "127.0.0.1:\(port)", "--ready-console", "^fw: tick 1[0-9]{2}$", "--cmdline",
                "fw.wait=ticks",
            ])
        #expect(
            guest.waitForOutput(containing: "fw: ticking", timeoutSeconds: 60),
            "the guest did not start ticking; stderr: \(guest.standardError.text.suffix(2000))")
        let before = try Self.get("http://127.0.0.1:\(port)/readyz")
        #expect(before.0 == 503 && before.1.contains("no console line matched"), "\(before)")
        #expect(try Self.get("http://127.0.0.1:\(port)/healthz").0 == 200)
        #expect(guest.waitForOutput(containing: "fw: tick 100", timeoutSeconds: 60))
        #expect(try waitFor(10) { try Self.get("http://127.0.0.1:\(port)/readyz").0 == 200 })
        guest.send(SIGTERM)
        #expect(guest.waitForExit(timeoutSeconds: 30).status == 0)
    }

    @Test func theTCPRuleIsReadyOnceThePortAcceptsConnections() throws {
        let python3 = try HostTool.python3
        let port = Self.port(4)
        let servicePort = Self.port(5)
        let guest = try RunningProcess(
            executable: SwiftVMMBinary.url,
            arguments: [
                "run", "--http", "127.0.0.1:\(port)", "--ready-tcp", "127.0.0.1:\(servicePort)", "--cmdline",
                "fw.wait=button",
            ])
        #expect(guest.waitForOutput(containing: "fw: waiting for the power button", timeoutSeconds: 60))
        let closed = try Self.get("http://127.0.0.1:\(port)/readyz")
        #expect(closed.0 == 503 && closed.1.contains("does not accept connections"), "\(closed)")
        let listener = try RunningProcess(
            executable: URL(fileURLWithPath: python3),
            arguments: [
                "-c",
                "import socket,time;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);"
                    + "s.bind(('127.0.0.1',\(servicePort)));s.listen();print('listening',flush=True);time.sleep(30)",
            ])
        #expect(listener.waitForOutput(containing: "listening", timeoutSeconds: 10))
        #expect(try waitFor(10) { try Self.get("http://127.0.0.1:\(port)/readyz").0 == 200 })
        listener.send(SIGKILL)
        _ = listener.waitForExit(timeoutSeconds: 10)
        #expect(try waitFor(10) { try Self.get("http://127.0.0.1:\(port)/readyz").0 == 503 }, "not ready again")
        guest.send(SIGTERM)
        #expect(guest.waitForExit(timeoutSeconds: 30).status == 0)
    }

    @Test func badEndpointSettingsAreOneLineBeforeTheGuestStarts() throws {
        let port = Self.port(6)
        let holder = try RunningProcess(
            executable: SwiftVMMBinary.url,
            arguments: ["run", "--http", "127.0.0.1:\(port)", "--cmdline", "fw.wait=button"])
        #expect(holder.waitForOutput(containing: "fw: waiting for the power button", timeoutSeconds: 60))
        for (arguments, status, word) in [
            (["--http", "127.0.0.1:\(port)"], Int32(15), "cannot listen on 127.0.0.1:\(port)"),
            (["--http", "localhost"], 10, "--http"),
            (["--http", "127.0.0.1:70000"], 10, "--http"),
            (["--ready-console", "([a-"], 10, "--ready-console"),
            (["--ready-tcp", "10.0.2.2"], 10, "--ready-tcp"),
        ] {
            let result = try SwiftVMMBinary.run(["run", "--cmdline", "fw.exit=0"] + arguments)
            #expect(result.status == status, "\(arguments): \(result.standardError)")
            #expect(
                result.errorLines.count == 1 && result.standardError.contains(word),
                "\(arguments): \(result.standardError)")
            #expect(!result.standardOutput.contains("fw: ready"), "the guest did not start")
        }
        holder.send(SIGTERM)
        _ = holder.waitForExit(timeoutSeconds: 30)
    }
}
