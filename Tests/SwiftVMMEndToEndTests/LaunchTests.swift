import Foundation
import Testing

/// `swiftvmm launch` as a pod runs it: configuration file with a `pod` section, the downward
/// API's variables, the console on stdout line by line, JSON log lines on stderr, SIGTERM.
@Suite(.serialized, .enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
struct LaunchTests {
    /// The endpoint of these launches (on the host's network, not a pod's: not the default 8080).
    static let endpointPort = 21_000 + Int(getpid() % 20_000)

    /// `json` in a file, with `pod.http_listen` on 127.0.0.1:`endpointPort` unless it sets one.
    private func configuration(_ json: String) throws -> String {
        try Self.launchConfiguration(json, pod: ["http_listen": "127.0.0.1:\(Self.endpointPort)"])
    }

    /// `json` in a file for `launch`, with `pod` keys it does not set taken from `pod`, and a
    /// probe socket of its own (not the default under /run, which another test may hold).
    static func launchConfiguration(_ json: String, pod defaults: [String: String]) throws -> String {
        var object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        var pod = object["pod"] as? [String: Any] ?? [:]
        let socket = FileManager.default.temporaryDirectory.appendingPathComponent("probe-\(UUID().uuidString).sock")
        for (key, value) in defaults.merging(["probe_socket": socket.path], uniquingKeysWith: { first, _ in first })
        where pod[key] == nil {
            pod[key] = value
        }
        object["pod"] = pod
        let data = try JSONSerialization.data(withJSONObject: object)
        return try SwiftVMMBinary.temporaryFile("launch-\(UUID().uuidString).json", contents: data).path
    }

    @Test func sigtermPowersTheGuestOffAndTheLogsAreJSONLines() throws {
        let path = try configuration(#"{"vcpus": 2, "cmdline": "fw.wait=button", "pod": {"grace_seconds": 20}}"#)
        let process = try RunningProcess(
            executable: SwiftVMMBinary.url, arguments: ["launch", "--config", path],
            environment: ["SWIFTVMM_POD_NAME": "web-0", "SWIFTVMM_POD_NAMESPACE": "tests"])
        #expect(process.waitForOutput(containing: "fw: waiting for the power button", timeoutSeconds: 30))
        process.send(SIGTERM)
        let (status, timedOut) = process.waitForExit(timeoutSeconds: 30)
        #expect(!timedOut && status == 0, "the guest powered off: status \(status)")
        let console = process.standardOutput.text.split(separator: "\n")
        #expect(console.contains("fw: power button pressed") && console.last == "fw: powering off")
        let logLines = process.standardError.text.split(separator: "\n")
        #expect(!logLines.isEmpty)
        for line in logLines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["timestamp"] != nil && object?["level"] != nil && object?["message"] != nil, "\(line)")
            #expect(object?["pod"] as? String == "web-0", "\(line)")
        }
        #expect(logLines.contains { $0.contains(#""message":"guest ready""#) })
        #expect(logLines.contains { $0.contains(#""message":"machine stopped""#) && $0.contains(#""vm":"web-0""#) })
    }

    @Test func aGuestThatDoesNotFitTheMemoryLimitIsRefusedBeforeItStarts() throws {
        let path = try configuration(#"{"memory_mib": 256, "cmdline": "fw.exit=0"}"#)
        let process = try RunningProcess(
            executable: SwiftVMMBinary.url, arguments: ["launch", "--config", path],
            environment: ["SWIFTVMM_MEMORY_LIMIT": "\(256 << 20)"])
        let (status, _) = process.waitForExit(timeoutSeconds: 30)
        #expect(status == 17)
        #expect(process.standardError.text.contains("at least 320Mi"))
        #expect(process.standardOutput.text.isEmpty, "nothing booted")
    }

    @Test(arguments: [
        ("SWIFTVMM_VCPUS", "many", 10), ("SWIFTVMM_POD_IP", "10.1", 10), ("SWIFTVMM_GRACE_SECONDS", "-1", 10),
    ])
    func badVariablesEndWithTheirNameAndStatus(name: String, value: String, status: Int32) throws {
        let path = try configuration(#"{"cmdline": "fw.exit=0"}"#)
        let process = try RunningProcess(
            executable: SwiftVMMBinary.url, arguments: ["launch", "--config", path], environment: [name: value])
        let (exitStatus, _) = process.waitForExit(timeoutSeconds: 30)
        #expect(exitStatus == status)
        #expect(process.standardError.text.contains("\(name): '\(value)'"))
    }

    @Test func theGuestsStatusIsTheProcessStatus() throws {
        let path = try configuration(#"{"cmdline": "fw.exit=5"}"#)
        let process = try RunningProcess(executable: SwiftVMMBinary.url, arguments: ["launch", "--config", path])
        let (status, _) = process.waitForExit(timeoutSeconds: 30)
        #expect(status == 64 + 5)
    }

    @Test func aGuestThatIgnoresTheButtonIsStoppedAfterTheGrace() throws {
        let path = try configuration(
            #"{"cmdline": "fw.wait=button fw.ignore-button", "pod": {"grace_seconds": 1}}"#)
        let process = try RunningProcess(executable: SwiftVMMBinary.url, arguments: ["launch", "--config", path])
        #expect(process.waitForOutput(containing: "fw: waiting for the power button", timeoutSeconds: 30))
        process.send(SIGTERM)
        let (status, timedOut) = process.waitForExit(timeoutSeconds: 30)
        #expect(!timedOut && status == 7, "forced stop: \(process.standardError.text)")
        #expect(process.standardOutput.text.contains("fw: power button pressed (ignored)"))
        #expect(process.standardError.text.contains("did not power off within 1.0 s: forcing a stop"))
    }

    @Test func theEndpointAndTheProbeSocketServeWhileTheGuestRuns() throws {
        let socket = FileManager.default.temporaryDirectory.appendingPathComponent("probe-\(UUID().uuidString).sock")
            .path
        let path = try configuration(#"{"cmdline": "fw.wait=button", "pod": {"probe_socket": "\#(socket)"}}"#)
        let process = try RunningProcess(executable: SwiftVMMBinary.url, arguments: ["launch", "--config", path])
        #expect(process.waitForOutput(containing: "fw: waiting for the power button", timeoutSeconds: 30))
        let base = "http://127.0.0.1:\(Self.endpointPort)"
        #expect(try ObservabilityEndpointTests.get("\(base)/readyz").0 == 200, "the boot timer was written")
        #expect(try ObservabilityEndpointTests.get("\(base)/healthz").0 == 200)
        let (status, page) = try ObservabilityEndpointTests.get("\(base)/metrics")
        let metrics = try ObservabilityEndpointTests.samples(page)
        #expect(status == 200 && metrics["swiftvmm_guest_state{state=running}"] == 1)
        #expect(process.standardError.text.contains(#""message":"endpoint listening""#))
        // The exec probe: `swiftvmm probe` over the unix socket (owner-only).
        var socketStatus = stat()
        #expect(lstat(socket, &socketStatus) == 0 && socketStatus.st_mode & 0o777 == 0o600)
        let ready = try SwiftVMMBinary.run(["probe", "ready", "--socket", socket])
        #expect(
            ready.status == 0 && ready.standardOutput.hasPrefix("ready: boot timer written"), "\(ready.standardOutput)")
        let healthy = try SwiftVMMBinary.run(["probe", "healthy", "--socket", socket])
        #expect(healthy.status == 0 && healthy.standardOutput.hasPrefix("healthy: running"))
        let nobody = try SwiftVMMBinary.run(["probe", "ready", "--socket", socket + ".none"])
        #expect(nobody.status == 1 && nobody.standardOutput.contains("no launcher answered"))
        process.send(SIGTERM)
        #expect(process.waitForExit(timeoutSeconds: 30).status == 0)
        // Left at exit (a sandboxed process removes no file); the next start reclaims it.
        #expect(FileManager.default.fileExists(atPath: socket))
        unlink(socket)
    }
}
