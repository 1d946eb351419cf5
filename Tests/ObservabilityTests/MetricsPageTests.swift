import Foundation
import Observability
import TestSupport
import Testing
import VMM

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

    // MARK: - HELP text

    /// The families on `text` whose `# TYPE` line does not come right after a `# HELP` line of
    /// the same name with some text (what `promtool check metrics` asks for).
    static func familiesWithoutHelp(_ text: String) -> [String] {
        let lines = text.split(separator: "\n")
        var missing: [String] = []
        for (index, line) in lines.enumerated() where line.hasPrefix("# TYPE ") {
            let name = line.split(separator: " ")[2]
            let help = index > 0 ? lines[index - 1] : ""
            let prefix = "# HELP \(name) "
            if !help.hasPrefix(prefix) || help.count == prefix.count { missing.append(String(name)) }
        }
        return missing
    }

    /// The `# TYPE` lines of `text`: family name → type.
    static func types(_ text: String) -> [String: String] {
        var types: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            types[String(parts[2])] = String(parts[3])
        }
        return types
    }

    @Test func everyFamilyHasOneLineOfHelp() {
        for family in MetricFamily.allCases {
            #expect(!family.help.isEmpty, "\(family.rawValue)")
            #expect(!family.help.contains("\n") && !family.help.contains("\\"), "\(family.rawValue)")
        }
    }

    @Test(arguments: [MachineMetrics.Format.prometheus, .openMetrics])
    func thePageWithoutAMachineHasHelpBeforeEveryType(format: MachineMetrics.Format) {
        let text = String(decoding: MachineMetrics().page(machine: nil, format: format), as: UTF8.self)
        #expect(!Self.types(text).isEmpty)
        #expect(Self.familiesWithoutHelp(text) == [], "\(text)")
    }

    /// A built (not started) machine with a disk serves every family but the guest's boot time
    /// (the guest has not signalled) and the NIC's (it has none), each with its HELP text and
    /// the type `MetricFamily` gives it.
    @Test(.enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
    func aMachineWithADiskServesEveryFamilyWithItsHelp() throws {
        let image = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-help-\(getpid()).img")
        try Data(count: 1 << 20).write(to: image)
        defer { try? FileManager.default.removeItem(at: image) }
        let machine = try Machine(
            configuration: VirtualMachineConfiguration(console: .none, disks: [DiskConfiguration(path: image.path)]))
        let metrics = MachineMetrics()
        let expected = MetricFamily.allCases.filter {
            ![MetricFamily.guestBoot, .netPackets, .netBytes, .netDropped].contains($0)
        }
        let text = String(decoding: metrics.page(machine: machine, format: .prometheus), as: UTF8.self)
        #expect(Self.familiesWithoutHelp(text) == [], "\(text)")
        let served = Self.types(text)
        for family in expected {
            #expect(served[family.rawValue] == family.type, "\(family.rawValue): \(text)")
            #expect(text.contains("# HELP \(family.rawValue) \(family.help)\n"), "\(family.rawValue)")
        }
        #expect(served.count == expected.count, "families not in MetricFamily: \(text)")
        let openMetrics = String(decoding: metrics.page(machine: machine, format: .openMetrics), as: UTF8.self)
        #expect(Self.familiesWithoutHelp(openMetrics) == [], "\(openMetrics)")
        #expect(openMetrics.contains("# HELP swiftvmm_disk_requests \(MetricFamily.diskRequests.help)\n"))
        #expect(openMetrics.contains("# TYPE swiftvmm_disk_requests counter\n"))
    }

    /// docs/observability.md lists every family with its type and the HELP text it is served with.
    @Test func theObservabilityPageListsEveryFamilyWithItsHelp() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let page = try String(contentsOf: root.appendingPathComponent("docs/observability.md"), encoding: .utf8)
        let rows = page.split(separator: "\n").filter { $0.hasPrefix("| `swiftvmm_") }
        for family in MetricFamily.allCases {
            let row = rows.first { $0.hasPrefix("| `\(family.rawValue)` | \(family.type) |") }
            #expect(row?.contains(" | \(family.help) | ") == true, "\(family.rawValue): \(row ?? "no row")")
        }
        #expect(rows.count == MetricFamily.allCases.count, "rows for families the code does not serve")
    }
}
