import Dispatch
import FoundationEssentials
import Synchronization
import VMM

#if canImport(Glibc)
    import Glibc
#endif

/// Firecracker's metrics file (PUT /metrics): one JSON object per line, written every 60 s,
/// on `FlushMetrics` and when the machine ends. As in Firecracker, counters are the change
/// since the previous line; the names are Firecracker's (`block_<drive_id>`, `net_<iface_id>`,
/// `vcpu.exit_io_in`, ...) for the counters SwiftVMM has.
final class FirecrackerMetricsWriter: Sendable {
    /// Firecracker's periodic interval.
    static let intervalSeconds = 60

    private let descriptor: Int32
    private let state = Mutex(State())
    private let timerQueue = DispatchQueue(label: "swiftvmm.firecracker-metrics")

    struct State {
        var driveIDs: [String] = []
        var interfaceIDs: [String] = []
        /// The totals of the last line, by group and name.
        var previous: [String: [String: UInt64]] = [:]
        var timer: PeriodicTimer?
    }

    /// Opens `path` for appending (created when missing; a named pipe without blocking).
    init(path: String) throws(FirecrackerFault) {
        switch LineFile.open(path) {
        case .success(let opened): descriptor = opened
        case .failure(let error):
            throw FirecrackerFault("Cannot initialize the metrics system: \(path): \(error.reason).")
        }
    }

    deinit { close(descriptor) }

    /// The names of the machine's disks and NICs, in its order.
    func use(drives: [String], interfaces: [String]) {
        state.withLock { state in
            state.driveIDs = drives
            state.interfaceIDs = interfaces
        }
    }

    /// Writes a line every `intervalSeconds` while `machine()` gives one.
    func startTimer(machine: @escaping @Sendable () -> Machine?) {
        let timer = PeriodicTimer(queue: timerQueue, seconds: Self.intervalSeconds) { [weak self] in
            self?.write(machine: machine())
        }
        state.withLock { $0.timer = timer }
    }

    func stopTimer() {
        state.withLock { state in
            state.timer?.cancel()
            state.timer = nil
        }
    }

    /// Appends one line with the counters' changes since the last line.
    func write(machine: Machine?) {
        let line: [UInt8] = state.withLock { state in
            let current = machine.map { Self.counters(of: $0, drives: state.driveIDs, interfaces: state.interfaceIDs) }
            var object = "{\"utc_timestamp_ms\":\(Self.utcMilliseconds())"
            for (group, values) in (current ?? [:]).sorted(by: { $0.key < $1.key }) {
                let before = state.previous[group] ?? [:]
                let fields = values.sorted { $0.key < $1.key }.map {
                    "\"\($0.key)\":\($0.value &- (before[$0.key] ?? 0))"
                }
                object += ",\"\(group)\":{\(fields.joined(separator: ","))}"
            }
            if let current { state.previous = current }
            return Array((object + "}\n").utf8)
        }
        LineFile.append(line, to: descriptor)
    }

    /// Every counter by group and name (totals since the machine was built).
    static func counters(of machine: Machine, drives: [String], interfaces: [String]) -> [String: [String: UInt64]] {
        var counters: [String: [String: UInt64]] = [:]
        func add(_ group: String, _ name: String, _ value: UInt64) {
            counters[group, default: [:]][name, default: 0] &+= value
        }
        let statistics = machine.statistics
        for disk in statistics.disks {
            let id = disk.index < drives.count ? drives[disk.index] : "\(disk.index)"
            for group in ["block", "block_\(id)"] {
                add(group, "read_count", disk.requests[.read] ?? 0)
                add(group, "write_count", disk.requests[.write] ?? 0)
                add(group, "flush_count", disk.requests[.flush] ?? 0)
                add(group, "read_bytes", disk.bytes[.read] ?? 0)
                add(group, "write_bytes", disk.bytes[.write] ?? 0)
                add(group, "invalid_reqs_count", disk.requests[.invalid] ?? 0)
                add(group, "io_errors", disk.errors)
            }
        }
        for nic in statistics.networkInterfaces {
            let id = nic.index < interfaces.count ? interfaces[nic.index] : "\(nic.index)"
            for group in ["net", "net_\(id)"] {
                add(group, "rx_packets_count", nic.receivedFrames)
                add(group, "rx_bytes_count", nic.receivedBytes)
                add(group, "tx_packets_count", nic.transmittedFrames)
                add(group, "tx_bytes_count", nic.transmittedBytes)
                add(group, "tx_fails", nic.droppedTransmit)
                add(group, "rx_fails", nic.droppedReceive)
                add(group, "no_rx_avail_buffer", nic.receiveStarvations)
            }
        }
        for counts in statistics.exitCounts {
            add("vcpu", "exit_io_in", counts.portIn)
            add("vcpu", "exit_io_out", counts.portOut)
            add("vcpu", "exit_mmio_read", counts.mmioRead)
            add("vcpu", "exit_mmio_write", counts.mmioWrite)
        }
        let console = statistics.console
        add("uart", "write_count", console.guestBytes)
        add("uart", "missed_write_count", console.droppedBytes)
        return counters
    }

    static func utcMilliseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
    }
}

/// A repeating Dispatch timer, cancelled by `cancel()`.
final class PeriodicTimer: @unchecked Sendable {
    // SAFETY (@unchecked Sendable): the source is configured once in init and afterwards only
    // cancelled, which Dispatch allows from any thread.
    private let source: any DispatchSourceTimer

    init(queue: DispatchQueue, seconds: Int, _ handler: @escaping @Sendable () -> Void) {
        source = DispatchSource.makeTimerSource(queue: queue)
        let interval = DispatchTimeInterval.seconds(seconds)
        source.schedule(deadline: .now() + interval, repeating: interval)
        source.setEventHandler(handler: handler)
        source.resume()
    }

    func cancel() { source.cancel() }
}
