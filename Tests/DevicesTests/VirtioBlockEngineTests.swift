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

@Suite struct VirtioBlockEngineTests {
    static let write: UInt32 = 1
    static let read: UInt32 = 0
    static let flush: UInt32 = 4

    @Test func aFlushStartsOnlyAfterEveryEarlierWriteCompleted() throws {
        let engine = try ScriptedEngine()
        let harness = try EngineHarness(engine: engine)
        defer { harness.cleanUp() }
        // Two writes (not adjacent: not merged), a FLUSH, then a later write, made available together.
        let first = harness.request(type: Self.write, sector: 0, data: [UInt8](repeating: 1, count: 512))
        let second = harness.request(type: Self.write, sector: 100, data: [UInt8](repeating: 2, count: 512))
        let flush = harness.request(type: Self.flush, sector: 0)
        let later = harness.request(type: Self.write, sector: 200, data: [UInt8](repeating: 3, count: 512))
        _ = try harness.device.queueNotified(0)
        #expect(engine.running.map(\.kind) == [.write, .write, .write], "the flush waits; the later write does not")
        engine.complete(engine.running[0].tag)
        try harness.device.sourceReady(VirtioBlock.completionSource)
        #expect(engine.running.map(\.kind) == [.write, .write], "one earlier write is still in flight")
        #expect(harness.driver.takeUsed().map(\.head) == [UInt32(first.head)])
        // The later write completing first does not release the flush either.
        engine.complete(engine.running[1].tag)
        try harness.device.sourceReady(VirtioBlock.completionSource)
        #expect(!engine.running.contains { $0.kind == .datasync })
        engine.complete(engine.running[0].tag)
        try harness.device.sourceReady(VirtioBlock.completionSource)
        #expect(engine.running.map(\.kind) == [.datasync], "every earlier write done: fdatasync starts")
        #expect(harness.driver.takeUsed().map(\.head) == [UInt32(later.head), UInt32(second.head)])
        #expect(harness.status(flush.status) == 0xee, "not completed before its fdatasync returned")
        engine.complete(engine.running[0].tag, result: 0)
        try harness.device.sourceReady(VirtioBlock.completionSource)
        #expect(harness.driver.takeUsed().map(\.head) == [UInt32(flush.head)])
        #expect(harness.status(flush.status) == 0)
        // A flush with no write in flight starts at once.
        let alone = harness.request(type: Self.flush, sector: 0)
        _ = try harness.device.queueNotified(0)
        #expect(engine.running.map(\.kind) == [.datasync])
        engine.complete(engine.running[0].tag, result: -Int(EIO))
        try harness.device.sourceReady(VirtioBlock.completionSource)
        #expect(harness.status(alone.status) == 1, "a failed fdatasync is IOERR")
    }

    @Test func aQueueNeverHasMoreThanItsSizeInFlightWhateverTheDriverRepublishes() throws {
        let engine = try ScriptedEngine()
        let harness = try EngineHarness(engine: engine, queueSize: 8)
        defer { harness.cleanUp() }
        var heads: [UInt16] = []
        for index in 0..<8 {
            heads.append(harness.request(type: Self.read, sector: UInt64(index * 10), readBytes: 512).head)
        }
        #expect(try harness.device.queueNotified(0) == .done)
        #expect(engine.running.count == 8)
        // A hostile driver makes the same eight heads available again while they are in flight.
        for head in heads { harness.driver.makeAvailable(head: head) }
        #expect(try harness.device.queueNotified(0) == .done)
        #expect(engine.running.count == 8, "the queue's size in flight, no more")
        #expect(try harness.device.queueNotified(0) == .done)
        #expect(engine.running.count == 8, "another notification takes nothing more")
        // Completions free room: the device takes the queue up again on its own.
        for operation in engine.running { engine.complete(operation.tag) }
        try harness.device.sourceReady(VirtioBlock.completionSource)
        #expect(harness.driver.takeUsed().count == 8)
        #expect(engine.running.count == 8, "the republished heads, taken after the completions")
        for operation in engine.running { engine.complete(operation.tag) }
        try harness.device.sourceReady(VirtioBlock.completionSource)
        #expect(harness.driver.takeUsed().count == 8)
        #expect(engine.running.isEmpty)
    }

    @Test func aFailedOperationIsRetriedAloneAndItsStatusIsIOError() throws {
        let engine = try ScriptedEngine()
        let directory = NSTemporaryDirectory() + "swiftvmm-failing-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let harness = try EngineHarness(engine: engine, backend: FailingBackend(path: directory + "/failing.img"))
        defer { harness.cleanUp() }
        // Two adjacent writes: one operation for both.
        let first = harness.request(type: Self.write, sector: 0, data: [UInt8](repeating: 1, count: 512))
        let second = harness.request(type: Self.write, sector: 1, data: [UInt8](repeating: 1, count: 512))
        _ = try harness.device.queueNotified(0)
        #expect(engine.running.count == 1, "merged into one operation")
        engine.complete(engine.running[0].tag, result: -Int(ENOSPC))
        try harness.device.sourceReady(VirtioBlock.completionSource)
        #expect(harness.status(first.status) == 1 && harness.status(second.status) == 1)
        #expect(harness.driver.takeUsed().map(\.length) == [1, 1])
        #expect(harness.device.statistics.errors == 2)
        // A short transfer is not success either (two reads: a lone one runs inline).
        let read = harness.request(type: Self.read, sector: 8, readBytes: 4096)
        harness.request(type: Self.read, sector: 40, readBytes: 512)
        _ = try harness.device.queueNotified(0)
        #expect(engine.running.count == 2)
        engine.complete(engine.running[0].tag, result: 512)
        try harness.device.sourceReady(VirtioBlock.completionSource)
        #expect(harness.status(read.status) == 1)
        engine.complete(engine.running[0].tag)
        try harness.device.sourceReady(VirtioBlock.completionSource)
    }

    @Test func aLoneReadOrWriteWithNothingInFlightRunsInline() throws {
        let engine = try ScriptedEngine()
        let harness = try EngineHarness(engine: engine)
        defer { harness.cleanUp() }
        let lone = harness.request(type: Self.write, sector: 3, data: [UInt8](repeating: 7, count: 512))
        _ = try harness.device.queueNotified(0)
        #expect(engine.running.isEmpty, "no hand-off at queue depth 1")
        #expect(harness.status(lone.status) == 0)
        #expect(harness.driver.takeUsed().map(\.head) == [UInt32(lone.head)])
        // With one in flight, the next lone request goes to the engine too.
        harness.request(type: Self.read, sector: 0, readBytes: 512)
        harness.request(type: Self.read, sector: 20, readBytes: 512)
        _ = try harness.device.queueNotified(0)
        #expect(engine.running.count == 2)
        harness.request(type: Self.read, sector: 40, readBytes: 512)
        _ = try harness.device.queueNotified(0)
        #expect(engine.running.count == 3)
        for operation in engine.running { engine.complete(operation.tag) }
        try harness.device.sourceReady(VirtioBlock.completionSource)
    }

    @Test func aResetWaitsForEveryOperationInFlight() throws {
        let engine = try ScriptedEngine()
        let harness = try EngineHarness(engine: engine)
        defer { harness.cleanUp() }
        for index in 0..<4 {
            harness.request(type: Self.read, sector: UInt64(index * 10), readBytes: 4096)
        }
        _ = try harness.device.queueNotified(0)
        #expect(engine.running.count == 4)
        let completedBeforeReset = Flag()
        let completer = try OSThread(name: "completer") {
            var pause = timespec(tv_sec: 0, tv_nsec: 100_000_000)
            nanosleep(&pause, nil)
            completedBeforeReset.value.store(true, ordering: .releasing)
            for operation in engine.running { engine.complete(operation.tag) }
        }
        harness.device.reset()
        let completedFirst = completedBeforeReset.value.load(ordering: .acquiring)
        #expect(completedFirst, "reset returned only after the completions")
        #expect(engine.running.isEmpty)
        #expect(harness.driver.takeUsed().isEmpty, "completions after a reset go nowhere")
        completer.join()
    }

    /// A reset runs on a vCPU thread, whose filter forbids io_uring_enter: what a failed submit
    /// left queued is withdrawn (never started), not submitted, and the reset waits only for
    /// what was started.
    @Test func aResetAfterAFailedSubmitWithdrawsWhatIsQueuedWithoutSubmitting() throws {
        let engine = try ScriptedEngine()
        let harness = try EngineHarness(engine: engine)
        defer { harness.cleanUp() }
        harness.request(type: Self.read, sector: 0, readBytes: 4096)
        harness.request(type: Self.read, sector: 10, readBytes: 4096)
        _ = try harness.device.queueNotified(0)
        #expect(engine.running.count == 2, "two started")
        engine.failingSubmits.store(1, ordering: .relaxed)
        for index in 2..<5 {
            harness.request(type: Self.read, sector: UInt64(index * 10), readBytes: 4096)
        }
        _ = try harness.device.queueNotified(0)
        #expect(engine.queued.withLock { $0.count } == 3, "the failed submit left three queued")
        let submitsBeforeReset = engine.submitCalls.load(ordering: .relaxed)
        let completer = try OSThread(name: "completer") {
            var pause = timespec(tv_sec: 0, tv_nsec: 50_000_000)
            nanosleep(&pause, nil)
            for operation in engine.running { engine.complete(operation.tag) }
        }
        harness.device.reset()
        completer.join()
        #expect(engine.submitCalls.load(ordering: .relaxed) == submitsBeforeReset, "the reset never submitted")
        #expect(engine.withdrawn.withLock { $0.count } == 3)
        #expect(engine.running.isEmpty && engine.queued.withLock { $0.isEmpty })
        #expect(harness.driver.takeUsed().isEmpty, "nothing completes to the driver after a reset")
    }

    /// io_uring's withdraw: operations queued in the ring and not submitted leave it without a
    /// system call and never run; the ring stays usable.
    @Test(.enabled(if: (try? IOUringEngine(entries: 8)) != nil, "SKIPPED: io_uring is not available here"))
    func queuedRingOperationsAreWithdrawnAndNeverRun() throws {
        let engine = try IOUringEngine(entries: 8)
        let memory = try GuestMemory(totalBytes: 1 << 20)
        let path = NSTemporaryDirectory() + "swiftvmm-withdraw-\(UUID().uuidString)"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(repeating: 0xAB, count: 8192)))
        defer { unlink(path) }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        defer { close(descriptor) }
        func read(_ tag: UInt64) throws -> BlockEngineOperation {
            let vectors = try HostIOVectors(
                memory: memory, buffers: [(address: GuestAddress(tag * 4096), length: 4096)])
            return BlockEngineOperation(kind: .read, descriptor: descriptor, offset: 0, vectors: vectors, tag: tag)
        }
        // The operations (their iovecs) live until they complete, as the device's in-flight table keeps them.
        let withdrawn = try (UInt64(1)...3).map { try read($0) }
        for operation in withdrawn { #expect(engine.enqueue(operation) == .queued) }
        #expect(engine.withdrawQueued().sorted() == [1, 2, 3])
        engine.submit()
        var pause = timespec(tv_sec: 0, tv_nsec: 100_000_000)
        nanosleep(&pause, nil)
        #expect(engine.reap(maximum: 16).isEmpty, "nothing withdrawn ran")
        #expect(try memory.load(UInt8.self, at: GuestAddress(4096)) == 0, "its buffer was never written")
        let kept = try read(7)
        #expect(engine.enqueue(kept) == .queued)
        engine.submit()
        var completions: [BlockEngineCompletion] = []
        #expect(
            waitUntil(seconds: 5) {
                completions += engine.reap(maximum: 16)
                return !completions.isEmpty
            })
        #expect(completions == [BlockEngineCompletion(tag: 7, result: 4096)])
        #expect(try memory.load(UInt8.self, at: GuestAddress(7 * 4096)) == 0xAB)
        _ = (withdrawn, kept)
    }

    /// Random data through the real engines, many requests in flight, read back byte-exact
    /// through the device and checked in the image file.
    @Test(arguments: [BlockEngineKind.ioUring, .threads])
    func dataRoundTripsByteExactThroughARealEngine(kind: BlockEngineKind) throws {
        let spawn: BlockWorkerSpawner = { name, body in try OSThread(name: name, body: body) }
        let engine: any BlockEngine
        do {
            engine = try BlockEngines.make(kind, name: "test", spawn: spawn)
        } catch {
            print("SKIPPED: \(kind.rawValue) engine unavailable here: \(error)")
            return
        }
        let harness = try EngineHarness(engine: engine, queueSize: 128)
        defer { harness.cleanUp() }
        var generator = SystemRandomNumberGenerator()
        var expected = [UInt8](repeating: 0, count: 2048 * 512)
        var pending = 0
        // 48 writes of 1–16 sectors at scattered (non-overlapping) places, one notification.
        for index in 0..<48 {
            let sectors = Int.random(in: 1...16, using: &generator)
            let sector = index * 40
            let data = (0..<sectors * 512).map { _ in UInt8.random(in: 0...255, using: &generator) }
            expected.replaceSubrange(sector * 512..<sector * 512 + data.count, with: data)
            harness.request(type: Self.write, sector: UInt64(sector), data: data)
            pending += 1
        }
        harness.request(type: Self.flush, sector: 0)
        pending += 1
        _ = try harness.device.queueNotified(0)
        let written = try waitForUsed(harness, count: pending)
        #expect(written.count == pending && written.allSatisfy { $0.length == 1 })
        // Read everything back in 64 reads of 32 sectors.
        var reads: [(data: UInt64, status: UInt64, sector: Int)] = []
        for index in 0..<64 {
            let request = harness.request(type: Self.read, sector: UInt64(index * 32), readBytes: 32 * 512)
            reads.append((request.data, request.status, index * 32))
        }
        _ = try harness.device.queueNotified(0)
        let read = try waitForUsed(harness, count: 64)
        #expect(read.count == 64 && read.allSatisfy { $0.length == 32 * 512 + 1 })
        for request in reads {
            #expect(harness.status(request.status) == 0)
            let bytes = try harness.memory.readBytes(at: GuestAddress(request.data), count: 32 * 512)
            let same = bytes == Array(expected[request.sector * 512..<(request.sector + 32) * 512])
            #expect(same, "sectors \(request.sector)..<\(request.sector + 32) read back as written")
        }
        let file = try Data(contentsOf: URL(fileURLWithPath: harness.imagePath))
        let imageMatches = Array(file) == expected
        #expect(imageMatches, "the image holds exactly what the guest wrote")
        #expect(harness.device.engineKind == kind)
    }

    /// Polls the device's completions (as the I/O thread would on the eventfd) until `count`
    /// chains are used or 10 s passed.
    private func waitForUsed(_ harness: EngineHarness, count: Int) throws -> [(head: UInt32, length: UInt32)] {
        var used: [(head: UInt32, length: UInt32)] = []
        let deadline = Date().addingTimeInterval(10)
        while used.count < count, Date() < deadline {
            try harness.device.sourceReady(VirtioBlock.completionSource)
            used += harness.driver.takeUsed()
            if used.count < count { usleep(1000) }
        }
        return used
    }

    @Test func inFlightTableOrdersFlushesByTag() {
        var table = InFlightRequests(queueCount: 2)
        #expect(table.canTake(queue: 0, size: 2, capacity: 10, adding: 1))
        #expect(!table.canTake(queue: 0, size: 2, capacity: 10, adding: 2))
        #expect(!table.canTake(queue: 5, size: 2, capacity: 10, adding: 0), "no such queue")
        #expect(table.takeReadyFlushes().isEmpty)
    }
}
