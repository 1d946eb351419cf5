import FoundationEssentials
import Prometheus
import Synchronization
import VMM

/// The Prometheus metrics of one VMM process, computed at scrape time from the machine's own
/// counters (`Machine.statistics`: exit counts, disks, network interfaces, …): nothing is
/// counted on a vCPU's exit path or per request for the metrics' sake. Counters and gauges live
/// in a swift-prometheus registry, each family made with its HELP text (`MetricFamily`); each
/// counter is advanced by what its source counted since the last scrape, so it keeps growing
/// across reboots in place. The disk request-duration histogram, whose buckets the I/O thread
/// already counts, is written next to them in the same format.
public final class MachineMetrics: Sendable {
    /// The text formats `/metrics` answers in.
    public enum Format: Sendable, Equatable {
        /// Prometheus text exposition format 0.0.4.
        case prometheus
        /// OpenMetrics 1.0.0 text.
        case openMetrics

        /// The Content-Type of the page.
        public var contentType: String {
            switch self {
            case .prometheus: return "text/plain; version=0.0.4; charset=utf-8"
            case .openMetrics: return "application/openmetrics-text; version=1.0.0; charset=utf-8"
            }
        }

        /// The format an `Accept` header asks for (OpenMetrics only when it is named).
        public init(accept: String?) {
            self = (accept ?? "").contains("application/openmetrics-text") ? .openMetrics : .prometheus
        }
    }

    private let registry = PrometheusCollectorRegistry()
    private let state = Mutex(State())

    private struct State {
        /// The machine the `seen` values came from (a reboot in place brings a new one).
        var machine: ObjectIdentifier?
        var seen: [String: Double] = [:]
        var counters: [String: Counter] = [:]
        var gauges: [String: Gauge] = [:]
        /// Histograms seen so far, totals kept across machines.
        var histograms: [String: Histogram] = [:]
    }

    /// One disk's request-duration histogram: totals across machines, and what the current
    /// machine had counted at the last scrape.
    struct Histogram {
        var bounds: [Double]
        var buckets: [UInt64]
        var sum: Double = 0
        var seen: [UInt64] = []
        var seenSum: Double = 0
    }

    public init() {}

    /// The page for `machine` (nil before the first machine exists) in `format`.
    public func page(machine: Machine?, format: Format = .prometheus) -> [UInt8] {
        var histogramText = ""
        state.withLock { state in
            if let machine, state.machine != ObjectIdentifier(machine) {
                state.machine = ObjectIdentifier(machine)
                state.seen = [:]
                for key in state.histograms.keys {
                    state.histograms[key]?.seen = []
                    state.histograms[key]?.seenSum = 0
                }
            }
            update(&state, machine: machine)
            histogramText = Self.histogramText(state.histograms)
        }
        var text = registry.emitToString() + histogramText
        if format == .openMetrics { text = Self.openMetrics(text) }
        return Array(text.utf8)
    }

    // MARK: - Collection

    private func update(_ state: inout State, machine: Machine?) {
        gauge(&state, .processResidentMemory, [], Double(ProcessMemory.residentBytes() ?? 0))
        guard let machine else { return }
        let configuration = machine.configuration
        let statistics = machine.statistics
        gauge(&state, .guestMemory, [], Double(configuration.memoryMiB) * 1_048_576)
        gauge(&state, .vcpus, [], Double(configuration.vcpuCount))
        let current = Self.stateName(machine.state)
        for name in ["created", "running", "paused", "stopping", "stopped"] {
            gauge(&state, .guestState, [("state", name)], name == current ? 1 : 0)
        }
        if let nanoseconds = statistics.guestReadyAfterStartNanoseconds {
            gauge(&state, .guestBoot, [], Double(nanoseconds) / 1e9)
        }
        for (index, counts) in statistics.exitCounts.enumerated() {
            let vcpu = ("vcpu", "\(index)")
            for (reason, value) in [
                ("port_in", counts.portIn), ("port_out", counts.portOut), ("mmio_read", counts.mmioRead),
                ("mmio_write", counts.mmioWrite), ("interrupted", counts.interrupted),
            ] {
                counter(&state, .vcpuExits, [vcpu, ("reason", reason)], Double(value))
            }
        }
        for (index, nanoseconds) in statistics.vcpuCPUNanoseconds.enumerated() {
            counter(&state, .vcpuRunTime, [("vcpu", "\(index)")], Double(nanoseconds) / 1e9)
        }
        for disk in statistics.disks {
            let label = ("disk", "disk\(disk.index)")
            for operation in DiskStatistics.Operation.allCases {
                let op = ("op", operation.rawValue)
                counter(&state, .diskRequests, [label, op], Double(disk.requests[operation] ?? 0))
                counter(&state, .diskBytes, [label, op], Double(disk.bytes[operation] ?? 0))
                counter(&state, .diskTime, [label, op], disk.seconds[operation] ?? 0)
            }
            counter(&state, .diskErrors, [label], Double(disk.errors))
            // Which engine runs the disk's requests (io_uring, threads or sync): 1 for that one.
            gauge(&state, .diskEngine, [label, ("engine", disk.engine)], 1)
            histogram(&state, disk)
        }
        for nic in statistics.networkInterfaces {
            let label = ("nic", nic.tap)
            for (direction, packets, bytes) in [
                ("rx", nic.receivedFrames, nic.receivedBytes), ("tx", nic.transmittedFrames, nic.transmittedBytes),
            ] {
                counter(&state, .netPackets, [label, ("direction", direction)], Double(packets))
                counter(&state, .netBytes, [label, ("direction", direction)], Double(bytes))
            }
            for (reason, value) in [
                ("tx_refused", nic.droppedTransmit), ("rx_lost", nic.droppedReceive),
                ("rx_unusable_buffer", nic.unusableReceiveBuffers),
            ] {
                counter(&state, .netDropped, [label, ("reason", reason)], Double(value))
            }
        }
        let console = statistics.console
        counter(&state, .consoleBytes, [("direction", "out")], Double(console.guestBytes))
        counter(&state, .consoleDroppedBytes, [], Double(console.droppedBytes))
    }

    private static func key(_ name: String, _ labels: [(String, String)]) -> String {
        name + "{" + labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",") + "}"
    }

    /// Advances counter `family{labels}` by what its source counted since the last scrape.
    private func counter(_ state: inout State, _ family: MetricFamily, _ labels: [(String, String)], _ value: Double) {
        let key = Self.key(family.rawValue, labels)
        let counter = Self.cached(&state.counters, key) {
            registry.makeCounter(name: family.rawValue, labels: labels, help: family.help)
        }
        let delta = value - (state.seen[key] ?? 0)
        if delta > 0 { counter.increment(by: delta) }
        state.seen[key] = max(value, state.seen[key] ?? 0)
    }

    private func gauge(_ state: inout State, _ family: MetricFamily, _ labels: [(String, String)], _ value: Double) {
        Self.cached(&state.gauges, Self.key(family.rawValue, labels)) {
            registry.makeGauge(name: family.rawValue, labels: labels, help: family.help)
        }
        .set(to: value)
    }

    /// The metric object for `key`, made (once) by `make`.
    private static func cached<Metric>(_ store: inout [String: Metric], _ key: String, _ make: () -> Metric) -> Metric {
        if let metric = store[key] { return metric }
        let metric = make()
        store[key] = metric
        return metric
    }

    private func histogram(_ state: inout State, _ disk: DiskStatistics) {
        let key = "disk\(disk.index)"
        var entry =
            state.histograms[key]
            ?? Histogram(
                bounds: disk.durationBucketBoundsSeconds,
                buckets: Array(repeating: 0, count: disk.durationBucketCounts.count))
        let seen = entry.seen.isEmpty ? Array(repeating: UInt64(0), count: disk.durationBucketCounts.count) : entry.seen
        for (index, count) in disk.durationBucketCounts.enumerated() where index < entry.buckets.count {
            entry.buckets[index] &+= count &- min(count, seen[index])
        }
        entry.sum += max(0, disk.durationSumSeconds - entry.seenSum)
        entry.seen = disk.durationBucketCounts
        entry.seenSum = disk.durationSumSeconds
        state.histograms[key] = entry
    }

    // MARK: - Text

    /// The disk request-duration histograms in the text format (cumulative buckets).
    static func histogramText(_ histograms: [String: Histogram]) -> String {
        guard !histograms.isEmpty else { return "" }
        let family = MetricFamily.diskRequestDuration
        let name = family.rawValue
        var lines = ["# HELP \(name) \(family.help)", "# TYPE \(name) \(family.type)"]
        for disk in histograms.keys.sorted() {
            guard let entry = histograms[disk] else { continue }
            var cumulative: UInt64 = 0
            for (index, count) in entry.buckets.enumerated() {
                cumulative &+= count
                let bound = index < entry.bounds.count ? format(entry.bounds[index]) : "+Inf"
                lines.append("\(name)_bucket{disk=\"\(disk)\",le=\"\(bound)\"} \(cumulative)")
            }
            lines.append("\(name)_sum{disk=\"\(disk)\"} \(format(entry.sum))")
            lines.append("\(name)_count{disk=\"\(disk)\"} \(cumulative)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) + ".0" : "\(value)"
    }

    /// Prometheus text → OpenMetrics text: a counter family is named without `_total` in its
    /// metadata (HELP and TYPE; its samples keep it), and the page ends with `# EOF`.
    static func openMetrics(_ text: String) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        var counters: Set<Substring> = []
        for line in lines where line.hasPrefix("# TYPE ") && line.hasSuffix(" counter") {
            let name = line.dropFirst("# TYPE ".count).dropLast(" counter".count)
            if name.hasSuffix("_total") { counters.insert(name) }
        }
        var converted: [Substring] = []
        for line in lines {
            let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            if parts.count >= 3, parts[0] == "#", parts[1] == "HELP" || parts[1] == "TYPE", counters.contains(parts[2])
            {
                converted.append(
                    "# \(parts[1]) \(parts[2].dropLast("_total".count))" + (parts.count > 3 ? " \(parts[3])" : ""))
                continue
            }
            converted.append(line)
        }
        return converted.joined(separator: "\n") + "\n# EOF\n"
    }

    static func stateName(_ state: MachineState) -> String {
        switch state {
        case .created: return "created"
        case .running: return "running"
        case .paused: return "paused"
        case .stopping: return "stopping"
        case .stopped: return "stopped"
        }
    }
}

/// Every metric family `/metrics` serves, with its type and HELP text: a family cannot be
/// served without them (docs/observability.md lists the same).
package enum MetricFamily: String, CaseIterable, Sendable {
    case vcpuExits = "swiftvmm_vcpu_exits_total"
    case vcpuRunTime = "swiftvmm_vcpu_run_seconds_total"
    case vcpus = "swiftvmm_vcpus"
    case diskRequests = "swiftvmm_disk_requests_total"
    case diskBytes = "swiftvmm_disk_bytes_total"
    case diskTime = "swiftvmm_disk_time_seconds_total"
    case diskRequestDuration = "swiftvmm_disk_request_duration_seconds"
    case diskErrors = "swiftvmm_disk_errors_total"
    case diskEngine = "swiftvmm_disk_engine_info"
    case netPackets = "swiftvmm_net_packets_total"
    case netBytes = "swiftvmm_net_bytes_total"
    case netDropped = "swiftvmm_net_dropped_total"
    case guestState = "swiftvmm_guest_state"
    case guestBoot = "swiftvmm_guest_boot_seconds"
    case guestMemory = "swiftvmm_guest_memory_bytes"
    case processResidentMemory = "swiftvmm_process_resident_memory_bytes"
    case consoleBytes = "swiftvmm_console_bytes_total"
    case consoleDroppedBytes = "swiftvmm_console_dropped_bytes_total"

    /// The family's type, as its `# TYPE` line names it.
    package var type: String {
        switch self {
        case .vcpuExits, .vcpuRunTime, .diskRequests, .diskBytes, .diskTime, .diskErrors, .netPackets, .netBytes,
            .netDropped, .consoleBytes, .consoleDroppedBytes:
            return "counter"
        case .diskRequestDuration: return "histogram"
        case .vcpus, .diskEngine, .guestState, .guestBoot, .guestMemory, .processResidentMemory: return "gauge"
        }
    }

    /// The family's `# HELP` text (one line, no backslash).
    package var help: String {
        switch self {
        case .vcpuExits: return "vCPU exits the VMM handled, by vCPU and reason."
        case .vcpuRunTime: return "CPU time of each vCPU thread, guest time included, in seconds."
        case .vcpus: return "vCPUs of the machine."
        case .diskRequests: return "virtio-blk requests completed, by disk and operation."
        case .diskBytes:
            return "Bytes that virtio-blk requests read, wrote, discarded or zeroed, by disk and operation."
        case .diskTime: return "Time spent on virtio-blk requests, by disk and operation, in seconds."
        case .diskRequestDuration: return "Duration of virtio-blk requests, by disk, in seconds."
        case .diskErrors: return "virtio-blk requests completed with an error status, by disk."
        case .diskEngine: return "The engine that runs a disk's requests (io_uring, threads or sync); always 1."
        case .netPackets: return "Frames between a tap and the guest, by NIC and direction (rx: to the guest)."
        case .netBytes: return "Ethernet bytes between a tap and the guest, by NIC and direction (rx: to the guest)."
        case .netDropped: return "Frames dropped or guest buffers left unused, by NIC and reason."
        case .guestState: return "1 for the machine's current state, 0 for the others."
        case .guestBoot: return "Seconds from the machine's start to the guest's ready signal."
        case .guestMemory: return "Guest RAM of the machine, in bytes."
        case .processResidentMemory:
            return "Resident memory of the VMM process (VmRSS, guest pages included), in bytes."
        case .consoleBytes: return "Bytes the guest wrote to its serial console."
        case .consoleDroppedBytes: return "Console bytes dropped: the sink was slow, failed or reached its size cap."
        }
    }
}

/// The process's resident memory.
enum ProcessMemory {
    /// VmRSS of /proc/self/status, in bytes.
    static func residentBytes() -> UInt64? {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: "/proc/self/status")) else { return nil }
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kib = line.split(separator: " ").dropFirst().first.flatMap { UInt64($0) }
            return kib.map { $0 * 1024 }
        }
        return nil
    }
}
