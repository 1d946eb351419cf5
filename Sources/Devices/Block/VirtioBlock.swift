import GuestMemory
import Synchronization
import Virtio

/// virtio-blk (device ID 2): one request queue over a `BlockBackend`. Requests are parsed
/// (`BlockRequest.parse`), then executed; FLUSH completes only after the backend's fdatasync
/// returned. Malformed requests get IOERR (or length 0 when not even a status byte exists).
public final class VirtioBlock: VirtioDevice, Sendable {
    public static let deviceTypeID: UInt32 = 2
    public static let queueSize: UInt16 = 256

    enum Feature {
        static let sizeMaximum: UInt64 = 1 << 1
        static let segmentMaximum: UInt64 = 1 << 2
        static let readOnly: UInt64 = 1 << 5
        static let blockSize: UInt64 = 1 << 6
        static let flush: UInt64 = 1 << 9
        static let discard: UInt64 = 1 << 13
        static let writeZeroes: UInt64 = 1 << 14
    }

    /// Largest DISCARD / WRITE_ZEROES request, in sectors (1 GiB).
    static let maximumDiscardSectors: UInt32 = 1 << 21

    public let backend: any BlockBackend
    /// The GET_ID answer (at most 20 bytes).
    public let identifier: [UInt8]
    private let active = Mutex<VirtioActivation?>(nil)
    private let completed = Atomic<UInt64>(0)

    public init(backend: any BlockBackend, serial: String?) {
        self.backend = backend
        identifier = Array((serial ?? "").utf8.prefix(Int(BlockRequest.identifierSize)))
    }

    public var deviceID: UInt32 { Self.deviceTypeID }
    public var queueMaximumSizes: [UInt16] { [Self.queueSize] }
    public var deviceFeatures: UInt64 {
        var features = Feature.segmentMaximum | Feature.blockSize | Feature.flush
        if backend.isReadOnly { features |= Feature.readOnly }
        if backend.supportsDiscard { features |= Feature.discard | Feature.writeZeroes }
        return features
    }

    /// Requests completed so far.
    public var requestsCompleted: UInt64 { completed.load(ordering: .relaxed) }

    /// The configuration space (virtio 1.x, 5.2.4), little-endian.
    var configuration: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 60)
        func put<Value: FixedWidthInteger>(_ value: Value, at offset: Int) {
            for index in 0..<MemoryLayout<Value>.size {
                bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index))
            }
        }
        put(backend.capacityBytes / BlockRequest.sectorSize, at: 0)  // capacity
        put(UInt32(Self.queueSize - 2), at: 12)  // seg_max
        put(UInt32(BlockRequest.sectorSize), at: 20)  // blk_size
        if backend.supportsDiscard {
            put(Self.maximumDiscardSectors, at: 36)  // max_discard_sectors
            put(UInt32(1), at: 40)  // max_discard_seg
            put(UInt32(8), at: 44)  // discard_sector_alignment (4 KiB)
            put(Self.maximumDiscardSectors, at: 48)  // max_write_zeroes_sectors
            put(UInt32(1), at: 52)  // max_write_zeroes_seg
            bytes[56] = 1  // write_zeroes_may_unmap
        }
        return bytes
    }

    public func readConfiguration(offset: UInt64, size: Int) -> UInt64 {
        VirtioConfigurationSpace.read(configuration, offset: offset, size: size)
    }

    public func writeConfiguration(offset: UInt64, size: Int, value: UInt64) {}  // nothing writable

    public func activate(_ activation: VirtioActivation) throws(VirtioDeviceError) {
        guard activation.queues.first.flatMap({ $0 }) != nil else {
            throw VirtioDeviceError("virtio-blk: the driver did not enable the request queue")
        }
        active.withLock { $0 = activation }
    }

    public func reset() {
        active.withLock { $0 = nil }
    }

    /// Most iovecs one merged read or write may use (the kernel's IOV_MAX).
    static let maximumMergedBuffers = 1024

    /// A parsed request waiting to be completed, with the chain head it completes.
    private struct Pending {
        let head: UInt16
        let request: BlockRequest
    }

    public func queueNotified(_ index: Int) throws(QueueError) {
        guard index == 0, let activation = active.withLock({ $0 }), let queue = activation.queues[0] else { return }
        // Everything available now is taken in one go, so that sequential reads or writes can be
        // merged into one preadv/pwritev (as QEMU merges them); other requests run in order.
        // Notifications stay off while the queue is drained, and the queue is checked once more
        // after turning them back on (virtio 2.7.10), so a busy driver does not notify per request.
        repeat {
            try queue.disableNotifications()
            try drain(queue, activation: activation)
        } while try queue.enableNotifications()
        if try queue.needsInterrupt() { activation.interrupt.raise() }
    }

    private func drain(_ queue: SplitQueue, activation: VirtioActivation) throws(QueueError) {
        var batch: [Pending] = []
        while let available = try queue.popAvailable() {
            guard case .valid(let chain) = available, let request = BlockRequest.parse(chain, memory: activation.memory)
            else {
                try complete(batch, queue: queue, memory: activation.memory)
                batch = []
                try queue.addUsed(head: available.head, length: 0)
                completed.add(1, ordering: .relaxed)
                continue
            }
            batch.append(Pending(head: available.head, request: request))
        }
        try complete(batch, queue: queue, memory: activation.memory)
    }

    /// Executes `batch` in order, merging runs of adjacent reads or writes, and completes each.
    private func complete(_ batch: [Pending], queue: SplitQueue, memory: GuestMemory) throws(QueueError) {
        var position = 0
        while position < batch.count {
            let run = Self.mergeableRun(batch, from: position)
            var statuses: [BlockRequest.Status]
            if run.count > 1, let merged = Self.merged(run.map(\.request)) {
                let status = execute(merged, memory: memory)
                // A failed merged transfer is retried request by request, for exact statuses.
                statuses =
                    status == .ok
                    ? Array(repeating: .ok, count: run.count) : run.map { execute($0.request, memory: memory) }
            } else {
                statuses = run.map { execute($0.request, memory: memory) }
            }
            for (pending, status) in zip(run, statuses) {
                try? memory.store(status.rawValue, at: pending.request.status)
                let length = UInt32(clamping: (status == .ok ? pending.request.writableDataLength : 0) + 1)
                try queue.addUsed(head: pending.head, length: length)
                completed.add(1, ordering: .relaxed)
            }
            position += run.count
        }
    }

    /// The longest run from `start` of reads (or writes) each starting where the previous ended.
    private static func mergeableRun(_ batch: [Pending], from start: Int) -> ArraySlice<Pending> {
        var end = start + 1
        var buffers = batch[start].request.dataBuffers?.count ?? 0
        guard let first = batch[start].request.transfer else { return batch[start..<end] }
        var nextSector = first.sector + first.sectors
        while end < batch.count, let transfer = batch[end].request.transfer, transfer.isWrite == first.isWrite,
            transfer.sector == nextSector, let count = batch[end].request.dataBuffers?.count,
            buffers + count <= maximumMergedBuffers
        {
            buffers += count
            nextSector = transfer.sector + transfer.sectors
            end += 1
        }
        return batch[start..<end]
    }

    /// One request covering all of `requests` (adjacent reads or writes), or nil.
    private static func merged(_ requests: [BlockRequest]) -> BlockRequest? {
        guard let first = requests.first, let transfer = first.transfer else { return nil }
        let buffers = requests.flatMap { $0.dataBuffers ?? [] }
        let operation: BlockRequest.Operation =
            transfer.isWrite
            ? .write(sector: transfer.sector, from: buffers) : .read(sector: transfer.sector, into: buffers)
        return BlockRequest(operation: operation, status: first.status, writableDataLength: 0)
    }

    /// Runs one parsed request against the backend.
    func execute(_ request: BlockRequest, memory: GuestMemory) -> BlockRequest.Status {
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
            for range in ranges {
                guard range.sectorCount <= Self.maximumDiscardSectors, let offset = Self.byteOffset(range.sector) else {
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
