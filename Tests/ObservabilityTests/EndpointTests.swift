import Foundation
import Logging
import Observability
import TestSupport
import Testing
import VMM

/// The endpoint in process, on a machine the test drives: /healthz and /readyz through a
/// machine's whole life, before, during and after.
@Suite(.serialized, .enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
struct EndpointTests {
    private func get(_ url: String) throws -> Int {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-s", "-o", "/dev/null", "-m", "5", "-w", "%{http_code}", url]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Int(String(decoding: data, as: UTF8.self)) ?? 0
    }

    @Test func healthAndReadinessFollowTheMachine() async throws {
        let port = 30_000 + Int(getpid() % 20_000)
        let current = CurrentMachine()
        let readiness = try Readiness(rule: .bootTimer)
        let endpoint = try ObservabilityEndpoint.start(
            address: .tcp(host: "127.0.0.1", port: port), field: "test", machine: current,
            metrics: MachineMetrics(), readiness: readiness, logger: Logger(label: "test"))
        defer { endpoint.stop() }
        let base = "http://127.0.0.1:\(port)"
        #expect(try get("\(base)/readyz") == 503, "no machine yet")
        let machine = try Machine(
            configuration: VirtualMachineConfiguration(commandLine: "fw.wait=button", console: .none))
        current.set(machine)
        #expect(try get("\(base)/readyz") == 503, "not started")
        #expect(try get("\(base)/healthz") == 200)
        try machine.start()
        for _ in 0..<200 where machine.statistics.guestReadyNanoseconds == nil {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(try get("\(base)/readyz") == 200, "the boot timer was written")
        #expect(try get("\(base)/metrics") == 200)
        #expect(try await machine.requestStop(grace: .seconds(30)) == .poweredOff)
        #expect(try get("\(base)/readyz") == 503)
        #expect(try get("\(base)/healthz") == 503, "the machine stopped")
    }
}
