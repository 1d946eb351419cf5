#if canImport(Glibc)
    import Glibc
#endif

import EventLoop
import Foundation
import GuestMemory
import Synchronization
import TestSupport
import Testing
import Threads
@_spi(ExitPath) import Virtio
import VirtioTestSupport

@_spi(ExitPath) @testable import Devices

/// An engine double: it keeps every operation until the test completes it, so that the order
/// of completions (and what the device does in between) is the test's to choose.
final class ScriptedEngine: BlockEngine {
    let completed: EventFD
    let queued = Mutex<[BlockEngineOperation]>([])
    let submitted = Mutex<[BlockEngineOperation]>([])
    let finished = Mutex<[BlockEngineCompletion]>([])
    /// Submits that fail (leaving the operations queued, as io_uring_submit does when the kernel
    /// cannot take them) before they succeed again.
    let failingSubmits = Atomic<Int>(0)
    /// submit() calls so far.
    let submitCalls = Atomic<Int>(0)
    /// Tags taken back by withdrawQueued().
    let withdrawn = Mutex<[UInt64]>([])
    let capacity: Int
    var kind: BlockEngineKind { .threads }
    var completionDescriptor: Int32? { completed.rawValue }

    init(capacity: Int = 1024) throws {
        completed = try EventFD()
        self.capacity = capacity
    }

    func start() throws(BlockEngineError) {}
    func enqueue(_ operation: BlockEngineOperation) -> BlockEngineAdmission {
        queued.withLock { $0.append(operation) }
        return .queued
    }
    func submit() {
        submitCalls.add(1, ordering: .relaxed)
        if failingSubmits.load(ordering: .relaxed) > 0 {
            failingSubmits.subtract(1, ordering: .relaxed)
            return
        }
        let operations = queued.withLock { queued in
            defer { queued = [] }
            return queued
        }
        submitted.withLock { $0 += operations }
    }
    func withdrawQueued() -> [UInt64] {
        let tags = queued.withLock { queued in
            defer { queued = [] }
            return queued.map(\.tag)
        }
        withdrawn.withLock { $0 += tags }
        return tags
    }
    func reap(maximum: Int) -> [BlockEngineCompletion] {
        finished.withLock { finished in
            let count = min(maximum, finished.count)
            defer { finished.removeFirst(count) }
            return Array(finished.prefix(count))
        }
    }
    func acknowledgeWakeUp() { _ = completed.drain() }
    func wakeAgain() { completed.signal() }

    /// Operations submitted and not yet completed, in submission order.
    var running: [BlockEngineOperation] { submitted.withLock { $0 } }

    /// Completes the submitted operation `tag` with `result` (default: every byte moved).
    func complete(_ tag: UInt64, result: Int? = nil) {
        let operation = submitted.withLock { submitted in
            let index = submitted.firstIndex { $0.tag == tag }!
            return submitted.remove(at: index)
        }
        let bytes = Int(operation.vectors?.totalBytes ?? 0)
        finished.withLock { $0.append(BlockEngineCompletion(tag: tag, result: result ?? bytes)) }
        completed.signal()
    }
}

final class Flag: Sendable {
    let value = Atomic<Bool>(false)
}

/// A backend whose every synchronous call fails, as a disk returning EIO would; its descriptor
/// is a real (empty) file, so that the engine path is taken.
final class FailingBackend: BlockBackend, @unchecked Sendable {
    let descriptor: Int32
    let capacityBytes: UInt64 = 64 * 512
    let isReadOnly = false
    let supportsDiscard = false
    init(path: String) {
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    }
    deinit { close(descriptor) }
    func read(at offset: UInt64, into buffers: [DescriptorBuffer], memory: GuestMemory) -> BlockRequest.Status {
        .ioError
    }
    func write(at offset: UInt64, from buffers: [DescriptorBuffer], memory: GuestMemory) -> BlockRequest.Status {
        .ioError
    }
    func flush() -> BlockRequest.Status { .ioError }
    func discard(at offset: UInt64, length: UInt64) -> BlockRequest.Status { .unsupported }
    func writeZeroes(at offset: UInt64, length: UInt64, unmap: Bool) -> BlockRequest.Status { .unsupported }
    func transferDescriptor(offset: UInt64, buffers: [DescriptorBuffer], writing: Bool) -> Int32? { descriptor }
    var flushDescriptor: Int32? { descriptor }
}

/// A virtio-blk device with an engine on a mock queue, over a scratch image file.
struct EngineHarness {
    let device: VirtioBlock
    let driver: MockDriverQueue
    let memory: GuestMemory
    let directory: String
    let registrar = RecordingEventRegistrar()

    init(engine: any BlockEngine, queueSize: UInt16 = 64, sectors: Int = 2048, backend: (any BlockBackend)? = nil)
        throws
    {
        directory = NSTemporaryDirectory() + "swiftvmm-engine-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let image = directory + "/disk.img"
        #expect(FileManager.default.createFile(atPath: image, contents: Data(count: sectors * 512)))
        memory = try GuestMemory(totalBytes: 4 << 20)
        driver = MockDriverQueue(memory: memory, size: queueSize)
        let chosen = try backend ?? FileBlockBackend(path: image, readOnly: false, directIO: false)
        device = VirtioBlock(backend: chosen, serial: nil, engine: engine)
        try device.startEngine()
        let queue = try SplitQueue(layout: driver.layout, memory: memory, eventIndex: false, indirectDescriptors: true)
        try device.activate(
            VirtioActivation(
                queues: [queue], memory: memory, features: 0, interrupt: VirtioInterrupt(line: nil),
                events: registrar.events(queueCount: 1)))
    }

    var imagePath: String { directory + "/disk.img" }

    /// Adds a request chain: header, `data` (device-readable for writes, writable for reads) and
    /// a status byte. Returns the head, the data address and the status address.
    @discardableResult
    func request(type: UInt32, sector: UInt64, data: [UInt8] = [], readBytes: UInt32 = 0)
        -> (head: UInt16, data: UInt64, status: UInt64)
    {
        let header = driver.allocate(16)
        try? memory.store(type, at: GuestAddress(header))
        try? memory.store(sector, at: GuestAddress(header + 8))
        var buffers: [MockDriverQueue.Buffer] = [.init(address: header, length: 16, writable: false)]
        var dataAddress: UInt64 = 0
        if !data.isEmpty {
            dataAddress = driver.allocate(UInt32(data.count))
            try? memory.write(data, at: GuestAddress(dataAddress))
            buffers.append(.init(address: dataAddress, length: UInt32(data.count), writable: false))
        } else if readBytes > 0 {
            dataAddress = driver.allocate(readBytes, filledWith: 0x5a)
            buffers.append(.init(address: dataAddress, length: readBytes, writable: true))
        }
        let status = driver.allocate(1, filledWith: 0xee)
        buffers.append(.init(address: status, length: 1, writable: true))
        // Indirect: one ring descriptor per request, however many are in flight.
        let head = driver.addIndirectChain(buffers)
        return (head, dataAddress, status)
    }

    func status(_ address: UInt64) -> UInt8? { try? memory.load(UInt8.self, at: GuestAddress(address)) }

    func cleanUp() { try? FileManager.default.removeItem(atPath: directory) }
}
