import Foundation
import Testing

/// `swiftvmm launch` as a pod runs it: configuration file with a `pod` section, the downward
/// API's variables, the console on stdout line by line, JSON log lines on stderr, SIGTERM.
@Suite(.serialized, .enabled(if: kvmUsable, "SKIPPED: needs read/write access to /dev/kvm"))
struct LaunchTests {
    private func configuration(_ json: String) throws -> String {
        try SwiftVMMBinary.temporaryFile("launch-\(UUID().uuidString).json", contents: Data(json.utf8)).path
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
}
