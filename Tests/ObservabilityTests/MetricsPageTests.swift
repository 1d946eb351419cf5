import Observability
import Testing

@Suite struct MetricsPageTests {
    @Test func openMetricsNamesCounterFamiliesWithoutTotalAndEnds() {
        let page = MachineMetrics().page(machine: nil, format: .openMetrics)
        let text = String(decoding: page, as: UTF8.self)
        #expect(text.hasSuffix("# EOF\n"))
        #expect(text.contains("swiftvmm_process_resident_memory_bytes"))
    }

    @Test func theAcceptHeaderChoosesTheFormat() {
        #expect(
            MachineMetrics.Format(accept: "application/openmetrics-text;version=1.0.0,text/plain;q=0.5") == .openMetrics
        )
        #expect(MachineMetrics.Format(accept: "text/plain") == .prometheus)
        #expect(MachineMetrics.Format(accept: nil) == .prometheus)
    }

    @Test func badReadinessRulesAreNamed() {
        #expect(throws: (any Error).self) {
            try Readiness(rule: .consoleLine(pattern: "([a-"), field: "pod.ready.console")
        }
        #expect(throws: (any Error).self) { try Readiness(rule: .tcpPort(host: "10.0.2.2", port: 0)) }
    }
}
