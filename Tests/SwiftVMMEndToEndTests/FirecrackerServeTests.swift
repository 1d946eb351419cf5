import EmbeddedFirmware
import Foundation
import Testing

/// `swiftvmm serve`: Firecracker's API on a unix socket, with the test firmware as the guest
/// (booted as Firecracker's kernel_image_path), driven by curl, raw connections and a
/// Firecracker client from PyPI.
@Suite(.serialized, .enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
final class FirecrackerServeTests {
    let directory: URL
    let kernel: String

    deinit { try? FileManager.default.removeItem(at: directory) }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swiftvmm-serve-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        kernel = directory.appendingPathComponent("firmware.elf").path
        FileManager.default.createFile(atPath: kernel, contents: Data(EmbeddedFirmware.elf))
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Starts `swiftvmm serve` on a fresh socket; returns the process and a client for it.
    func serve(_ extra: [String] = [], socket name: String = "api.sock") throws -> (
        RunningProcess, FirecrackerAPIClient
    ) {
        let socket = path(name)
        let process = try RunningProcess(
            executable: SwiftVMMBinary.url, arguments: ["serve", "--api-sock", socket] + extra)
        let client = FirecrackerAPIClient(socketPath: socket)
        #expect(try client.waitUntilServing(), "serve did not answer: \(process.standardError.text)")
        return (process, client)
    }

    /// Tick lines the firmware printed so far.
    func ticks(_ process: RunningProcess) -> Int {
        process.standardOutput.text.split(separator: "\n").filter { $0.hasPrefix("fw: tick ") }.count
    }

    @Test func configureStartPauseResumeAndPowerOffThroughTheAPI() throws {
        let (process, api) = try serve(["--id", "fc-test-1"])
        let log = path("fc.log")
        let metrics = path("metrics.json")
        #expect(try api.call("PUT", "/machine-config", #"{"vcpu_count": 2, "mem_size_mib": 64}"#).0 == 204)
        #expect(
            try api.call(
                "PUT", "/boot-source",
                #"{"kernel_image_path": "\#(kernel)", "boot_args": "console=ttyS0 fw.wait=ticks"}"#)
                == (204, ""))
        #expect(
            try api.call("PUT", "/logger", #"{"log_path": "\#(log)", "level": "Info", "show_level": true}"#).0 == 204)
        #expect(try api.call("PUT", "/metrics", #"{"metrics_path": "\#(metrics)"}"#).0 == 204)
        #expect(try api.state() == "Not started")
        #expect(try api.call("PUT", "/actions", #"{"action_type": "InstanceStart"}"#) == (204, ""))
        #expect(try api.state() == "Running")

        // Owner-only socket.
        var status = stat()
        #expect(lstat(api.socketPath, &status) == 0 && status.st_mode & 0o777 == 0o600)

        // Paused: the firmware's tick counter stops; resumed: it goes on.
        #expect(waitFor(30) { ticks(process) >= 3 }, "\(process.standardOutput.text)")
        #expect(try api.call("PATCH", "/vm", #"{"state": "Paused"}"#) == (204, ""))
        #expect(try api.state() == "Paused")
        let pausedAt = ticks(process)
        Thread.sleep(forTimeInterval: 1.5)
        #expect(ticks(process) == pausedAt, "no tick while paused")
        #expect(try api.call("PATCH", "/vm", #"{"state": "Paused"}"#).0 == 204, "pausing a paused VM is a no-op")
        #expect(try api.call("PATCH", "/vm", #"{"state": "Resumed"}"#) == (204, ""))
        #expect(waitFor(10) { ticks(process) > pausedAt + 2 })
        #expect(try api.state() == "Running")

        // Post-boot rules.
        let postBoot = "The requested operation is not supported after starting the microVM."
        #expect(try api.fault("PUT", "/actions", #"{"action_type": "InstanceStart"}"#) == postBoot)
        #expect(try api.fault("PUT", "/boot-source", #"{"kernel_image_path": "\#(kernel)"}"#) == postBoot)
        #expect(try api.fault("PUT", "/machine-config", #"{"vcpu_count": 1, "mem_size_mib": 64}"#) == postBoot)
        #expect(try api.fault("PATCH", "/machine-config", #"{"vcpu_count": 1}"#) == postBoot)
        #expect(try api.fault("PUT", "/logger", #"{"level": "Debug"}"#) == postBoot)
        #expect(try api.fault("PUT", "/entropy", "{}") == postBoot)
        #expect(try api.fault("PATCH", "/drives/rootfs", #"{"drive_id": "rootfs"}"#).contains("not found"))
        #expect(try api.fault("PATCH", "/vm", #"{"state": "Stopped"}"#).contains("deserializing"))
        let config = try api.call("GET", "/vm/config")
        #expect(config.0 == 200 && config.1.contains("\"vcpu_count\":2") && config.1.contains("fw.wait=ticks"))
        #expect(try api.call("GET", "/machine-config").1.contains("\"mem_size_mib\":64"))

        // FlushMetrics: a line of Firecracker-named counters from the running machine.
        #expect(try api.call("PUT", "/actions", #"{"action_type": "FlushMetrics"}"#) == (204, ""))
        let lines = (try? String(contentsOfFile: metrics, encoding: .utf8))?.split(separator: "\n") ?? []
        let flushed = try JSONSerialization.jsonObject(with: Data((lines.last ?? "").utf8)) as? [String: Any]
        let vcpu = flushed?["vcpu"] as? [String: Int]
        #expect((vcpu?["exit_io_out"] ?? 0) > 0, "port writes counted: \(lines)")
        #expect(flushed?["utc_timestamp_ms"] is Int)

        // Ctrl+Alt+Del is the power button: the firmware powers off and serve ends with 0.
        #expect(try api.call("PUT", "/actions", #"{"action_type": "SendCtrlAltDel"}"#) == (204, ""))
        let (exit, timedOut) = process.waitForExit(timeoutSeconds: 30)
        #expect(!timedOut && exit == 0, "\(process.standardError.text)")
        #expect(process.standardOutput.text.contains("fw: powering off"))
        // The socket's file stays: once sandboxed the process removes no file (the next start
        // reclaims a socket nobody listens on).
        #expect(FileManager.default.fileExists(atPath: api.socketPath))
        let logText = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(logText.contains("[fc-test-1:swiftvmm:INFO] machine paused"), "\(logText)")
        #expect(logText.contains("The API server received a PATCH request on \"/vm\""))
        // A last metrics line at exit.
        let finalLines = (try? String(contentsOfFile: metrics, encoding: .utf8))?.split(separator: "\n") ?? []
        #expect(finalLines.count == lines.count + 1)
    }

    @Test func aConfigFileBootsAtOnceAndTheSocketKeepsServing() throws {
        let config = path("vm.json")
        let disk = path("disk.img")
        FileManager.default.createFile(atPath: disk, contents: Data(count: 1 << 20))
        try Data(
            """
            {
              "boot-source": {"kernel_image_path": "\(kernel)", "boot_args": "console=ttyS0 fw.test=blk fw.blk-mib=1 fw.wait=button"},
              "drives": [{"drive_id": "scratch", "path_on_host": "\(disk)", "is_root_device": false, "is_read_only": false}],
              "machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
              "entropy": {}
            }
            """.utf8
        ).write(to: URL(fileURLWithPath: config))
        let (process, api) = try serve(["--config-file", config])
        #expect(waitFor(30) { (try? api.state()) == "Running" })
        #expect(process.waitForOutput(containing: "fw: waiting for the power button", timeoutSeconds: 60))
        #expect(process.standardOutput.text.contains("fw: blk0"), "the drive is the guest's disk")
        #expect(
            try api.fault(
                "PUT", "/drives/x", #"{"drive_id": "x", "path_on_host": "\#(disk)", "is_root_device": false}"#)
                == "The requested operation is not supported after starting the microVM.")
        let full = try api.call("GET", "/vm/config").1
        #expect(full.contains("\"drive_id\":\"scratch\"") && full.contains("\"entropy\":{}"))
        #expect(try api.call("PUT", "/actions", #"{"action_type": "SendCtrlAltDel"}"#).0 == 204)
        let (exit, timedOut) = process.waitForExit(timeoutSeconds: 30)
        #expect(!timedOut && exit == 0, "\(process.standardError.text)")
    }

    @Test func patchingADriveSwapsItsImageUnderTheLiveDriver() throws {
        let original = path("original.img")
        let replacement = path("replacement.img")
        FileManager.default.createFile(atPath: original, contents: Data(count: 1 << 20))
        FileManager.default.createFile(atPath: replacement, contents: Data(count: 2 << 20))
        let (process, api) = try serve()
        #expect(
            try api.call(
                "PUT", "/boot-source",
                #"{"kernel_image_path": "\#(kernel)", "boot_args": "console=ttyS0 fw.test=blk fw.blk-mib=1 fw.blk-wait-button fw.wait=button"}"#
            ).0 == 204)
        #expect(
            try api.call(
                "PUT", "/drives/scratch",
                #"{"drive_id": "scratch", "path_on_host": "\#(original)", "is_root_device": false}"#
            )
            .0 == 204)
        #expect(try api.call("PUT", "/actions", #"{"action_type": "InstanceStart"}"#).0 == 204)
        // The firmware's driver has the disk open (1 MiB = 2048 sectors) and waits.
        #expect(process.waitForOutput(containing: "fw: blk waiting for the power button", timeoutSeconds: 60))
        #expect(process.standardOutput.text.contains("fw: blk0 capacity 2048 sectors"))
        #expect(
            try api.fault(
                "PATCH", "/drives/scratch", #"{"drive_id": "scratch", "path_on_host": "\#(path("none.img"))"}"#
            )
            .contains("Unable to open the block device backing file"))
        #expect(
            try api.call("PATCH", "/drives/scratch", #"{"drive_id": "scratch", "path_on_host": "\#(replacement)"}"#)
                == (204, ""))
        // Grown on the host, then the same path again: its size is read again (3 MiB).
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: replacement))
        try handle.truncate(atOffset: 3 << 20)
        try handle.close()
        #expect(
            try api.call("PATCH", "/drives/scratch", #"{"drive_id": "scratch", "path_on_host": "\#(replacement)"}"#)
                == (204, ""))
        #expect(try api.call("GET", "/vm/config").1.contains(replacement))
        // After InstanceStart no thread holds a capability — the API's (SwiftNIO, Dispatch), which
        // parse requests and opened the replacement image, included.
        ThreadPrivileges.expectUnprivileged(process.processIdentifier, including: ["NIO-", "vcpu0", "vmm-signals"])
        #expect(try api.call("PUT", "/actions", #"{"action_type": "SendCtrlAltDel"}"#).0 == 204)
        #expect(process.waitForOutput(containing: "fw: waiting for the power button", timeoutSeconds: 60))
        let output = process.standardOutput.text
        #expect(
            output.contains("fw: blk0 after the button: capacity 6144 sectors, configuration change yes"), "\(output)")
        #expect(output.contains("fw: blk0 OK 2048 sectors written and verified"), "\(output)")
        // The pattern went to the replacement; the original image was never written.
        let written = try Data(contentsOf: URL(fileURLWithPath: replacement))
        #expect(written.prefix(1 << 20).contains { $0 != 0 })
        #expect(try Data(contentsOf: URL(fileURLWithPath: original)).allSatisfy { $0 == 0 })
        #expect(try api.call("PUT", "/actions", #"{"action_type": "SendCtrlAltDel"}"#).0 == 204)
        let (exit, timedOut) = process.waitForExit(timeoutSeconds: 30)
        #expect(!timedOut && exit == 0, "\(process.standardError.text)")
        #expect(process.standardError.text.contains("disk image replaced"))
    }

    @Test func noAPIAndRunFirecrackerConfigBootTheSameFile() throws {
        let config = path("exit7.json")
        try Data(
            #"{"boot-source": {"kernel_image_path": "\#(kernel)", "boot_args": "fw.exit=7"}, "machine-config": {"vcpu_count": 2, "mem_size_mib": 64}}"#
                .utf8
        ).write(to: URL(fileURLWithPath: config))
        let socket = path("never.sock")
        let serve = try SwiftVMMBinary.run(["serve", "--no-api", "--config-file", config, "--api-sock", socket])
        #expect(serve.status == 64 + 7, "the guest's status: \(serve.standardError)")
        #expect(serve.standardOutput.contains("fw: all 2 cpus up"))
        #expect(!FileManager.default.fileExists(atPath: socket), "--no-api serves nothing")
        let run = try SwiftVMMBinary.run(["run", "--firecracker-config", config])
        #expect(run.status == 64 + 7, "\(run.standardError)")
        // Firecracker's logger and metrics flags.
        let log = path("flags.log")
        let metrics = path("flags-metrics.json")
        let flagged = try SwiftVMMBinary.run([
            "serve", "--no-api", "--config-file", config, "--log-path", log, "--level", "info", "--show-level",
            "--show-log-origin", "--metrics-path", metrics,
        ])
        #expect(flagged.status == 64 + 7)
        let logText = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(logText.contains(":INFO:") && logText.contains("machine stopped"), "\(logText)")
        #expect(!flagged.standardError.contains("machine stopped"), "the log went to the file")
        let metricLines = ((try? String(contentsOfFile: metrics, encoding: .utf8)) ?? "").split(separator: "\n")
        #expect(metricLines.count == 1 && metricLines[0].contains("\"exit_io_out\""), "\(metricLines)")
        let quiet = try SwiftVMMBinary.run(["serve", "--no-api", "--config-file", config, "--level", "Off"])
        #expect(quiet.status == 64 + 7 && !quiet.standardError.contains("machine"), "\(quiet.standardError)")
        let badLevel = try SwiftVMMBinary.run(["serve", "--no-api", "--config-file", config, "--level", "Loud"])
        #expect(badLevel.status == 10 && badLevel.standardError.contains("--level"))
    }

    @Test func badInvocationsAreOneLineAndAStatus() throws {
        let noConfig = try SwiftVMMBinary.run(["serve", "--no-api"])
        #expect(noConfig.status == 10 && noConfig.errorLines.count == 1)
        #expect(noConfig.standardError.contains("--config-file"))
        let malformed = path("bad.json")
        try Data(#"{"machine-config": {"vcpu_count": 1, "mem_size_mib": 64}, "boot_source": {}}"#.utf8)
            .write(to: URL(fileURLWithPath: malformed))
        let bad = try SwiftVMMBinary.run(["serve", "--config-file", malformed, "--api-sock", path("b.sock")])
        #expect(bad.status == 10 && bad.errorLines.count == 1, "\(bad.standardError)")
        #expect(bad.standardError.contains("boot_source"))
        let missing = path("missing-kernel.json")
        try Data(#"{"boot-source": {"kernel_image_path": "/nonexistent/vmlinux"}}"#.utf8)
            .write(to: URL(fileURLWithPath: missing))
        let unreadable = try SwiftVMMBinary.run(["serve", "--no-api", "--config-file", missing])
        #expect(unreadable.status == 11 && unreadable.errorLines.count == 1, "\(unreadable.standardError)")
        #expect(unreadable.standardError.contains("/nonexistent/vmlinux"))
        let noKernel = path("no-kernel.json")
        try Data(#"{"machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}"#.utf8).write(
            to: URL(fileURLWithPath: noKernel))
        let noBoot = try SwiftVMMBinary.run(["serve", "--no-api", "--config-file", noKernel])
        #expect(noBoot.status == 10 && noBoot.standardError.contains("without kernel configuration"))
        let mixed = try SwiftVMMBinary.run(["run", "--firecracker-config", noKernel, "--cpus", "2"])
        #expect(mixed.status == 10 && mixed.standardError.contains("--cpus"))
        let badID = try SwiftVMMBinary.run(["serve", "--id", "no spaces", "--api-sock", path("c.sock")])
        #expect(badID.status == 10 && badID.standardError.contains("--id"))

        // A socket path that is a regular file, or a socket someone listens on: errors, and the
        // other process's socket is left alone.
        let file = path("plain-file")
        FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        let onFile = try SwiftVMMBinary.run(["serve", "--api-sock", file])
        #expect(onFile.status == 15 && onFile.standardError.contains("not a socket"), "\(onFile.standardError)")
        let (first, api) = try serve(socket: "busy.sock")
        let second = try SwiftVMMBinary.run(["serve", "--api-sock", api.socketPath])
        #expect(second.status == 15 && second.errorLines.count == 1 && second.standardError.contains("in use"))
        #expect(try api.call("GET", "/").0 == 200, "the first server still answers")
        first.send(SIGTERM)
        #expect(first.waitForExit(timeoutSeconds: 10) == (0, false))
    }

    @Test func aSignalBeforeStartEndsTheProcessAndAStaleSocketIsReclaimed() throws {
        // A stale socket file (bound, nobody listening) is taken over.
        let stale = path("stale.sock")
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        let bound = RawUnixConnection.withAddress(stale) { bind(descriptor, $0, $1) }
        close(descriptor)
        #expect(bound == 0 && FileManager.default.fileExists(atPath: stale))
        let (process, api) = try serve(socket: "stale.sock")
        #expect(try api.state() == "Not started")
        process.send(SIGTERM)
        let (exit, timedOut) = process.waitForExit(timeoutSeconds: 10)
        #expect(!timedOut && exit == 0, "\(process.standardError.text)")
        #expect(!FileManager.default.fileExists(atPath: stale))
    }

    @Test func malformedHTTPAndJSONNeverCrashOrStallTheVMM() throws {
        let (process, api) = try serve()
        #expect(
            try api.call(
                "PUT", "/boot-source",
                #"{"kernel_image_path": "\#(kernel)", "boot_args": "console=ttyS0 fw.wait=ticks"}"#
            )
            .0 == 204)
        #expect(try api.call("PUT", "/actions", #"{"action_type": "InstanceStart"}"#).0 == 204)
        #expect(waitFor(30) { ticks(process) >= 2 })

        // A slowloris connection: half a request, then silence. Others are served meanwhile, the
        // guest keeps running, and the server closes the silent connection after its idle timeout.
        let slow = try RawUnixConnection(path: api.socketPath)
        slow.send(Array("GET / HTTP/1.1\r\nHost: localhost\r\n".utf8))
        let before = ticks(process)
        let started = Date()
        #expect(try api.call("GET", "/").0 == 200)
        #expect(Date().timeIntervalSince(started) < 3)
        #expect(waitFor(10) { ticks(process) > before + 2 }, "the vCPU runs while a client stalls")

        // Garbage request line, oversized headers, oversized bodies (declared and chunked).
        let garbage = try RawUnixConnection(path: api.socketPath)
        garbage.send(Array("HELLO THERE\r\n\r\n".utf8))
        #expect(garbage.receive(timeoutSeconds: 5).closed, "a garbage request ends its connection")
        let huge = try RawUnixConnection(path: api.socketPath)
        huge.send(
            Array("GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: \(String(repeating: "a", count: 200_000))\r\n\r\n".utf8))
        #expect(huge.receive(timeoutSeconds: 5).closed, "oversized headers end their connection")
        let declared = try RawUnixConnection(path: api.socketPath)
        declared.send(
            Array("PUT /machine-config HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10000000\r\n\r\n{".utf8))
        let declaredAnswer = declared.receive(timeoutSeconds: 5, until: "}")
        #expect(declaredAnswer.text.hasPrefix("HTTP/1.1 400"), "\(declaredAnswer.text)")
        #expect(declaredAnswer.text.contains("larger than the limit of 51200"))
        let chunked = try RawUnixConnection(path: api.socketPath)
        chunked.send(
            Array("PUT /machine-config HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n".utf8))
        let chunk = String(repeating: "x", count: 16_384)
        for _ in 0..<8 { chunked.send(Array("4000\r\n\(chunk)\r\n".utf8)) }
        chunked.send(Array("0\r\n\r\n".utf8))
        let chunkedAnswer = chunked.receive(timeoutSeconds: 5, until: "}")
        #expect(chunkedAnswer.text.hasPrefix("HTTP/1.1 400"), "\(chunkedAnswer.text)")

        // Malformed JSON of every kind.
        for body in [
            "{", "]]", "\u{1}\u{2}", #"{"vcpu_count": 1e400, "mem_size_mib": 1}"#,
            String(repeating: "[", count: 20_000) + String(repeating: "]", count: 20_000),
            #"{"vcpu_count": 9223372036854775808, "mem_size_mib": 1}"#,
        ] {
            let (status, text) = try api.call("PUT", "/network-interfaces/eth0", body)
            #expect(status == 400 && text.contains("fault_message"), "\(body.prefix(40)): \(status) \(text)")
        }

        let closed = slow.receive(timeoutSeconds: 15)
        #expect(closed.closed, "the silent connection was closed after the idle timeout")
        #expect(try api.state() == "Running")
        #expect(try api.call("PUT", "/actions", #"{"action_type": "SendCtrlAltDel"}"#).0 == 204)
        let (exit, timedOut) = process.waitForExit(timeoutSeconds: 30)
        #expect(!timedOut && exit == 0, "\(process.standardError.text)")
    }

    @Test func aFirecrackerClientFromPyPIDrivesTheFirmware() throws {
        let setup = try RunningProcess(
            executable: SwiftVMMBinary.repositoryRoot.appendingPathComponent("scripts/firecracker-client.sh"),
            arguments: [])
        let (setupStatus, setupTimedOut) = setup.waitForExit(timeoutSeconds: 300)
        try #require(
            setupStatus == 0 && !setupTimedOut,
            "scripts/firecracker-client.sh (pyrecracker from PyPI): \(setup.standardError.text)")
        let python = setup.standardOutput.text.trimmingCharacters(in: .whitespacesAndNewlines)
        let (process, api) = try serve()
        let client = try RunningProcess(
            executable: URL(fileURLWithPath: python),
            arguments: [
                SwiftVMMBinary.repositoryRoot.appendingPathComponent("scripts/firecracker-client-drive.py").path,
                api.socketPath, kernel, "console=ttyS0 fw.wait=ticks",
            ])
        let (clientStatus, clientTimedOut) = client.waitForExit(timeoutSeconds: 60)
        #expect(!clientTimedOut && clientStatus == 0, "\(client.standardOutput.text)\(client.standardError.text)")
        #expect(client.standardOutput.text.contains("client: ctrl-alt-del sent"))
        let (exit, timedOut) = process.waitForExit(timeoutSeconds: 30)
        #expect(!timedOut && exit == 0, "\(process.standardError.text)")
        let log = process.standardError.text
        #expect(log.contains("machine paused") && log.contains("machine resumed"), "\(log)")
        #expect(process.standardOutput.text.contains("fw: power button pressed"))
    }
}
