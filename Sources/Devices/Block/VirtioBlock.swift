import EventLoop
import GuestMemory
import Synchronization
@_spi(ExitPath) import Virtio

/// virtio-blk (device ID 2): one or more request queues (VIRTIO_BLK_F_MQ) over a `BlockBackend`. Requests are parsed
/// (`BlockRequest.parse`), then started on the disk's engine along one path
/// (VirtioBlock+Engine.swift): the synchronous engine (`aio=sync`) completes them at once on
/// the I/O thread; an asynchronous one (io_uring, a worker pool) has many in flight and
/// completes them when it reports them (the device watches its completion eventfd). FLUSH
/// completes only after every write taken before it completed and the backend's fdatasync
/// returned. Malformed requests get IOERR (or length 0 when not even a status byte exists).
package final class VirtioBlock: VirtioDevice, Sendable {
    package static let deviceTypeID: UInt32 = 2
    package static let queueSize: UInt16 = 256

    enum Feature {
        static let sizeMaximum: UInt64 = 1 << 1
        static let segmentMaximum: UInt64 = 1 << 2
        static let readOnly: UInt64 = 1 << 5
        static let blockSize: UInt64 = 1 << 6
        static let flush: UInt64 = 1 << 9
        static let multiqueue: UInt64 = 1 << 12
        static let discard: UInt64 = 1 << 13
        static let writeZeroes: UInt64 = 1 << 14
    }

    /// What every request is checked against (and what the configuration space advertises).
    package let limits = BlockRequest.Limits.standard
    /// Data bytes one notification moves at most before yielding the I/O thread (with
    /// `QueueWork.budget` requests, this bounds the time one wake-up can take).
    static let byteBudget: UInt64 = 64 << 20

    /// Where the sectors live; replaced by `replaceBackend(_:)` (between requests).
    package var backend: any BlockBackend { backendSlot.withLock { $0 } }
    private let backendSlot: Mutex<any BlockBackend>
    /// The GET_ID answer (at most 20 bytes).
    package let identifier: [UInt8]
    let active = Mutex<VirtioActivation?>(nil)
    private let completed = Atomic<UInt64>(0)
    private let statisticsStore = Mutex(BlockStatistics())

    /// Request queues (each drained on its own notification; all on the I/O thread).
    package let queueCount: Int
    /// Where reads, writes and flushes run (`aio`).
    let engine: any BlockEngine
    /// The token of the engine's completion eventfd (`sourceReady(completionSource)`).
    package static let completionSource = 0
    /// What the engine has in flight (and flushes waiting for earlier writes).
    let inFlight: Mutex<InFlightRequests>
    /// Operations the engine would not take, with the result they complete with.
    let orphans = Mutex<[(InFlightRequests.Entry, Int)]>([])

    package init(
        backend: any BlockBackend, serial: String?, queueCount: Int = 1, engine: any BlockEngine = SynchronousEngine()
    ) {
        backendSlot = Mutex(backend)
        self.queueCount = max(1, queueCount)
        identifier = Array((serial ?? "").utf8.prefix(Int(BlockRequest.identifierSize)))
        self.engine = engine
        inFlight = Mutex(InFlightRequests(queueCount: max(1, queueCount)))
    }

    deinit {
        // Nothing may still read or write guest buffers once the device is gone.
        drainEngine(completing: false)
    }

    /// How requests run.
    package var engineKind: BlockEngineKind { engine.kind }

    package var deviceID: UInt32 { Self.deviceTypeID }
    package var queueMaximumSizes: [UInt16] { Array(repeating: Self.queueSize, count: queueCount) }
    /// Points the device at `next` (another image, Firecracker's PATCH /drives). The caller
    /// holds the transport's device lock, so no request is between its start and its completion;
    /// requests already completed were on the old backend, which is flushed (fdatasync) before it
    /// is released, so a later FLUSH covers them too. The features the driver negotiated must
    /// stay true: `next` must match in read-only and discard support. The caller then tells the
    /// driver that the configuration (the capacity) changed.
    package func replaceBackend(_ next: any BlockBackend) throws(BlockBackendError) {
        let current = backend
        guard next.isReadOnly == current.isReadOnly, next.supportsDiscard == current.supportsDiscard else {
            throw .incompatibleReplacement(
                reason: next.isReadOnly != current.isReadOnly
                    ? "its read-only setting differs" : "one is a block device and the other a regular file")
        }
        drainEngine(completing: true)  // nothing in flight on the old image
        _ = current.flush()
        backendSlot.withLock { $0 = next }
    }

    package var deviceFeatures: UInt64 {
        let backend = self.backend
        var features = Feature.segmentMaximum | Feature.blockSize | Feature.flush
        if backend.isReadOnly { features |= Feature.readOnly }
        if backend.supportsDiscard { features |= Feature.discard | Feature.writeZeroes }
        if queueCount > 1 { features |= Feature.multiqueue }
        return features
    }

    /// Requests completed so far.
    package var requestsCompleted: UInt64 { completed.load(ordering: .relaxed) }
    /// What the device did, by operation (read at scrape time).
    package var statistics: BlockStatistics { statisticsStore.withLock { $0 } }

    /// The configuration space (virtio 1.x, 5.2.4), little-endian.
    var configuration: [UInt8] {
        let backend = self.backend
        var bytes = [UInt8](repeating: 0, count: 60)
        func put<Value: FixedWidthInteger>(_ value: Value, at offset: Int) {
            for index in 0..<MemoryLayout<Value>.size {
                bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index))
            }
        }
        put(backend.capacityBytes / BlockRequest.sectorSize, at: 0)  // capacity
        put(UInt32(limits.dataSegments), at: 12)  // seg_max
        put(UInt32(BlockRequest.sectorSize), at: 20)  // blk_size
        put(UInt16(queueCount), at: 34)  // num_queues
        if backend.supportsDiscard {
            put(limits.discardSectors, at: 36)  // max_discard_sectors
            put(UInt32(limits.rangeSegments), at: 40)  // max_discard_seg
            put(UInt32(8), at: 44)  // discard_sector_alignment (4 KiB)
            put(limits.writeZeroesSectors, at: 48)  // max_write_zeroes_sectors
            put(UInt32(limits.rangeSegments), at: 52)  // max_write_zeroes_seg
            bytes[56] = 1  // write_zeroes_may_unmap
        }
        return bytes
    }

    package func readConfiguration(offset: UInt64, size: Int) -> UInt64 {
        VirtioConfigurationSpace.read(configuration, offset: offset, size: size)
    }

    package func writeConfiguration(offset: UInt64, size: Int, value: UInt64) {}  // nothing writable

    package func activate(_ activation: VirtioActivation) throws(VirtioDeviceError) {
        guard activation.queues.contains(where: { $0 != nil }) else {
            throw VirtioDeviceError("virtio-blk: the driver enabled no request queue")
        }
        try activation.events.watchQueues(activation.queues)
        if let completions = engine.completionDescriptor {
            _ = try activation.events.watch(completions, source: Self.completionSource)
        }
        active.withLock { $0 = activation }
    }

    package func reset() {
        // The driver may reuse its buffers at once: every operation still reading or writing
        // them finishes first (its completion is dropped; the queues are gone).
        drainEngine(completing: false)
        active.withLock { $0 = nil }
    }

    /// Most iovecs one merged read or write may use (the kernel's IOV_MAX).
    static let maximumMergedBuffers = 1024

    package func queueNotified(_ index: Int) throws(QueueError) -> QueueWork {
        guard let activation = active.withLock({ $0 }), activation.queues.indices.contains(index),
            let queue = activation.queues[index]
        else {
            return .done
        }
        return try process(queue, index: index, activation: activation)
    }

    /// Takes and runs what queue `index` has available, within one notification's budget.
    func process(_ queue: SplitQueue, index: Int, activation: VirtioActivation) throws(QueueError) -> QueueWork {
        // Everything available now (up to the budget) is taken in one go, so that sequential
        // reads or writes can be merged into one preadv/pwritev (as QEMU merges them); other
        // requests run in order. Notifications stay off while the queue is drained, and the queue
        // is checked once more after turning them back on (virtio 2.7.10), so a busy driver does
        // not notify per request. At the budget the device yields with notifications still off.
        var budget = Budget(requests: QueueWork.budget, bytes: Self.byteBudget)
        var emptyRounds = 0
        repeat {
            try queue.disableNotifications()
            let before = budget.requests
            let throttled = try drain(queue, index: index, activation: activation, budget: &budget)
            if throttled {
                // Requests in flight fill the queue (or the engine): notifications stay off and
                // the engine's completions take the queue up again.
                if try queue.needsInterrupt() { activation.interrupt.raise() }
                return .done
            }
            if budget.exhausted {
                if try queue.needsInterrupt() { activation.interrupt.raise() }
                return .pending
            }
            // A re-check that keeps finding nothing to take is a driver changing its ring under
            // the device: stop (the next notification starts again), never loop on it.
            emptyRounds = budget.requests == before ? emptyRounds + 1 : 0
            if emptyRounds >= 2 { break }
        } while try queue.enableNotifications()
        if try queue.needsInterrupt() { activation.interrupt.raise() }
        return .done
    }

    /// What one notification may still do.
    private struct Budget {
        var requests: Int
        var bytes: UInt64
        var exhausted: Bool { requests <= 0 || bytes == 0 }

        mutating func spend(_ request: BlockRequest) {
            requests -= 1
            bytes -= min(bytes, request.workBytes)
        }
    }

    /// Takes requests and runs (or submits) them; true when it stopped because the queue's
    /// requests in flight reached the queue size or the engine's capacity.
    private func drain(_ queue: SplitQueue, index: Int, activation: VirtioActivation, budget: inout Budget)
        throws(QueueError) -> Bool
    {
        var batch: [PendingRequest] = []
        var throttled = false
        while !budget.exhausted {
            let room = inFlight.withLock { table in
                table.canTake(queue: index, size: queue.layout.size, capacity: engine.capacity, adding: batch.count)
            }
            guard room else {
                inFlight.withLock { _ = $0.throttled.insert(index) }
                throttled = true
                break
            }
            guard let available = try queue.popAvailable() else { break }
            guard case .valid(let chain) = available,
                let request = BlockRequest.parse(chain, memory: activation.memory, limits: limits)
            else {
                budget.requests -= 1
                try start(batch, queue: queue, index: index, memory: activation.memory)
                batch = []
                try queue.addUsed(head: available.head, length: 0)
                completed.add(1, ordering: .relaxed)
                statisticsStore.withLock { $0.record(.invalid, bytes: 0, failed: true, nanoseconds: 0) }
                continue
            }
            budget.spend(request)
            batch.append(PendingRequest(head: available.head, request: request))
        }
        try start(batch, queue: queue, index: index, memory: activation.memory)
        return throttled
    }

    /// Writes each request's status byte, puts its chain in the used ring and counts it.
    func finish(
        _ requests: some Collection<PendingRequest>, statuses: [BlockRequest.Status], queue: SplitQueue,
        memory: GuestMemory, startedNanoseconds: UInt64
    ) throws(QueueError) {
        let nanoseconds = MonotonicClock.nanoseconds() &- startedNanoseconds
        statisticsStore.withLock { statistics in
            for (pending, status) in zip(requests, statuses) {
                statistics.record(
                    BlockStatistics.Operation(pending.request.operation), bytes: pending.request.workBytes,
                    failed: status != .ok, nanoseconds: nanoseconds)
            }
        }
        for (pending, status) in zip(requests, statuses) {
            try? memory.store(status.rawValue, at: pending.request.status)
            let written = status == .ok ? pending.request.writableDataLength : 0
            try queue.addUsed(head: pending.head, length: UInt32(clamping: written &+ 1))
            completed.add(1, ordering: .relaxed)
        }
    }

    /// The longest run from `start` of reads (or writes) each starting where the previous ended.
    /// Sector arithmetic is checked: a run never wraps past the last sector (such a request
    /// runs alone and fails its own range check).
    static func mergeableRun<Requests: RandomAccessCollection<BlockRequest>>(
        _ requests: Requests, from start: Requests.Index
    ) -> Range<Requests.Index> {
        var end = requests.index(after: start)
        guard let first = requests[start].transfer else { return start..<end }
        var buffers = requests[start].dataBuffers?.count ?? 0
        var (nextSector, overflow) = first.sector.addingReportingOverflow(first.sectors)
        while !overflow, end < requests.endIndex, let transfer = requests[end].transfer,
            transfer.isWrite == first.isWrite, transfer.sector == nextSector,
            let count = requests[end].dataBuffers?.count, buffers + count <= maximumMergedBuffers
        {
            buffers += count
            (nextSector, overflow) = transfer.sector.addingReportingOverflow(transfer.sectors)
            end = requests.index(after: end)
        }
        return start..<end
    }

    static func mergeableRun(_ batch: [PendingRequest], from start: Int) -> ArraySlice<PendingRequest> {
        batch[mergeableRun(batch.lazy.map(\.request), from: start)]
    }

    /// One request covering all of `requests` (adjacent reads or writes), or nil.
    static func merged(_ requests: [BlockRequest]) -> BlockRequest? {
        guard let first = requests.first, let transfer = first.transfer else { return nil }
        let buffers = requests.flatMap { $0.dataBuffers ?? [] }
        let operation: BlockRequest.Operation =
            transfer.isWrite
            ? .write(sector: transfer.sector, from: buffers) : .read(sector: transfer.sector, into: buffers)
        return BlockRequest(operation: operation, status: first.status, writableDataLength: 0)
    }

    /// Runs one parsed request against `backend` (the device's, read once per batch).
    func execute(_ request: BlockRequest, on backend: any BlockBackend, memory: GuestMemory) -> BlockRequest.Status {
        switch request.operation {
        case .read(let sector, let buffers):
            guard let offset = Self.byteOffset(sector) else { return .ioError }
            return backend.read(at: offset, into: buffers, memory: memory)
        case .write(let sector, let buffers):
            guard !backend.isReadOnly, let offset = Self.byteOffset(sector) else { return .ioError }
            return backend.write(at: offset, from: buffers, memory: memory)
        case .flush:
            return backend.flush()
        case .getIdentifier(let buffers):
            let padded = identifier + [UInt8](repeating: 0, count: Int(BlockRequest.identifierSize) - identifier.count)
            var position = 0
            for buffer in buffers where position < padded.count {
                let count = min(Int(buffer.length), padded.count - position)
                guard (try? memory.write(padded[position..<position + count], at: buffer.address)) != nil else {
                    return .ioError
                }
                position += count
            }
            return .ok
        case .discard(let ranges), .writeZeroes(let ranges):
            guard !backend.isReadOnly else { return .ioError }
            guard backend.supportsDiscard else { return .unsupported }
            let zeroes: Bool
            if case .writeZeroes = request.operation { zeroes = true } else { zeroes = false }
            let maximumSectors = zeroes ? limits.writeZeroesSectors : limits.discardSectors
            guard ranges.count <= limits.rangeSegments else { return .ioError }
            for range in ranges {
                guard range.sectorCount <= maximumSectors, let offset = Self.byteOffset(range.sector) else {
                    return .ioError
                }
                let length = UInt64(range.sectorCount) * BlockRequest.sectorSize
                let status =
                    zeroes
                    ? backend.writeZeroes(at: offset, length: length, unmap: range.unmap)
                    : backend.discard(at: offset, length: length)
                guard status == .ok else { return status }
            }
            return .ok
        case .unsupported:
            return .unsupported
        case .malformed:
            return .ioError
        }
    }

    /// The byte offset of `sector`, or nil when it overflows.
    static func byteOffset(_ sector: UInt64) -> UInt64? {
        let (offset, overflow) = sector.multipliedReportingOverflow(by: BlockRequest.sectorSize)
        return overflow ? nil : offset
    }
}
