import GuestMemory
import Testing
@_spi(ExitPath) import Virtio
import VirtioTestSupport

@_spi(ExitPath) @testable import Devices

/// One path for every engine: what a disk watches, and the synchronous engine completing
/// requests within the notification that brought them.
@Suite struct VirtioBlockPathTests {
    /// An asynchronous engine's completions are the device's own source, watched from its
    /// activation; the synchronous engine has nothing to watch.
    @Test func theDeviceWatchesItsQueuesAndItsEngineCompletions() throws {
        let asynchronous = try EngineHarness(engine: try ScriptedEngine())
        defer { asynchronous.cleanUp() }
        #expect(
            asynchronous.registrar.watching == [.queue(0): true, .source(VirtioBlock.completionSource): true])
        let synchronous = try EngineHarness(engine: SynchronousEngine())
        defer { synchronous.cleanUp() }
        #expect(synchronous.registrar.watching == [.queue(0): true])
    }

    /// `aio=sync`: a batch of writes, a flush and a read complete within the notification, with
    /// adjacent writes merged and the data in the image.
    @Test func theSynchronousEngineCompletesWithinTheNotification() throws {
        let harness = try EngineHarness(engine: SynchronousEngine())
        defer { harness.cleanUp() }
        let first = harness.request(
            type: VirtioBlockEngineTests.write, sector: 0, data: [UInt8](repeating: 0x11, count: 512))
        let second = harness.request(
            type: VirtioBlockEngineTests.write, sector: 1, data: [UInt8](repeating: 0x22, count: 512))
        let flush = harness.request(type: VirtioBlockEngineTests.flush, sector: 0)
        let read = harness.request(type: VirtioBlockEngineTests.read, sector: 0, readBytes: 1024)
        #expect(try harness.device.queueNotified(0) == .done)
        let heads = [first, second, flush, read].map { UInt32($0.head) }
        #expect(harness.driver.takeUsed().map(\.head) == heads)
        for request in [first, second, flush, read] { #expect(harness.status(request.status) == 0) }
        let bytes = try harness.memory.readBytes(at: GuestAddress(read.data), count: 1024)
        #expect(bytes == [UInt8](repeating: 0x11, count: 512) + [UInt8](repeating: 0x22, count: 512))
        #expect(harness.device.inFlight.withLock { $0.isEmpty }, "nothing stays in flight")
    }

    /// With an asynchronous engine, a lone read at depth 1 runs at once on the synchronous
    /// engine (the engine choice), and the next batch goes to the disk's engine.
    @Test func aLoneRequestAtDepthOneRunsAtOnce() throws {
        let engine = try ScriptedEngine()
        let harness = try EngineHarness(engine: engine)
        defer { harness.cleanUp() }
        let lone = harness.request(type: VirtioBlockEngineTests.read, sector: 0, readBytes: 512)
        _ = try harness.device.queueNotified(0)
        #expect(harness.driver.takeUsed().map(\.head) == [UInt32(lone.head)], "completed without the engine")
        #expect(engine.running.isEmpty)
        #expect(engine.submitCalls.load(ordering: .relaxed) == 0)
        harness.request(type: VirtioBlockEngineTests.read, sector: 0, readBytes: 512)
        harness.request(type: VirtioBlockEngineTests.read, sector: 8, readBytes: 512)
        _ = try harness.device.queueNotified(0)
        #expect(engine.running.count == 2, "two requests: the disk's engine")
        #expect(harness.driver.takeUsed().isEmpty)
        for operation in engine.running { engine.complete(operation.tag) }
        try harness.device.sourceReady(VirtioBlock.completionSource)
        #expect(harness.driver.takeUsed().count == 2)
    }
}
