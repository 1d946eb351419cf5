#if canImport(Glibc)
    import Glibc
#endif

import EventLoop
import GuestMemory
import Synchronization
import Testing
@_spi(ExitPath) import Virtio
import VirtioTestSupport

@_spi(ExitPath) @testable import Devices

/// A backend double: an in-memory disk that records every call (and what the used ring held
/// when FLUSH ran, to prove the request completes only after it).
final class RecordingBackend: BlockBackend, @unchecked Sendable {
    // SAFETY (@unchecked Sendable): tests drive it from one thread.
    var bytes: [UInt8]
    var calls: [String] = []
    let isReadOnly: Bool
    let supportsDiscard: Bool
    var usedIndexAtFlush: UInt16?
    var driver: MockDriverQueue?

    init(sectors: Int, readOnly: Bool = false, discard: Bool = true) {
        bytes = [UInt8](repeating: 0, count: sectors * 512)
        isReadOnly = readOnly
        supportsDiscard = discard
    }

    var capacityBytes: UInt64 { UInt64(bytes.count) }

    func read(at offset: UInt64, into buffers: [DescriptorBuffer], memory: GuestMemory) -> BlockRequest.Status {
        calls.append("read \(offset) \(buffers.totalLength)")
        guard offset <= capacityBytes, buffers.totalLength <= capacityBytes - offset else { return .ioError }
        var position = Int(offset)
        for buffer in buffers {
            try? memory.write(bytes[position..<position + Int(buffer.length)], at: buffer.address)
            position += Int(buffer.length)
        }
        return .ok
    }

    func write(at offset: UInt64, from buffers: [DescriptorBuffer], memory: GuestMemory) -> BlockRequest.Status {
        calls.append("write \(offset) \(buffers.totalLength)")
        guard offset <= capacityBytes, buffers.totalLength <= capacityBytes - offset else { return .ioError }
        var position = Int(offset)
        for buffer in buffers {
            let data = (try? memory.readBytes(at: buffer.address, count: Int(buffer.length))) ?? []
            bytes.replaceSubrange(position..<position + data.count, with: data)
            position += Int(buffer.length)
        }
        return .ok
    }

    func flush() -> BlockRequest.Status {
        calls.append("flush")
        usedIndexAtFlush = driver?.usedIndex
        return .ok
    }

    func discard(at offset: UInt64, length: UInt64) -> BlockRequest.Status {
        calls.append("discard \(offset) \(length)")
        return .ok
    }

    func writeZeroes(at offset: UInt64, length: UInt64, unmap: Bool) -> BlockRequest.Status {
        calls.append("write-zeroes \(offset) \(length) \(unmap)")
        guard offset <= capacityBytes, length <= capacityBytes - offset else { return .ioError }
        bytes.replaceSubrange(Int(offset)..<Int(offset + length), with: [UInt8](repeating: 0, count: Int(length)))
        return .ok
    }
}

/// A virtio-blk device on a mock queue.
struct BlockHarness {
    let device: VirtioBlock
    let backend: RecordingBackend
    let driver: MockDriverQueue

    init(sectors: Int = 64, readOnly: Bool = false, serial: String? = "disk-serial-01", queueSize: UInt16 = 64)
        throws
    {
        let memory = try GuestMemory(totalBytes: 1 << 20)
        driver = MockDriverQueue(memory: memory, size: queueSize)
        backend = RecordingBackend(sectors: sectors, readOnly: readOnly)
        backend.driver = driver
        device = VirtioBlock(backend: backend, serial: serial)
        let queue = try SplitQueue(layout: driver.layout, memory: memory, eventIndex: false, indirectDescriptors: true)
        try device.activate(
            VirtioActivation(queues: [queue], memory: memory, features: 0, interrupt: VirtioInterrupt(line: nil)))
    }

    /// A 16-byte request header in guest memory.
    func header(type: UInt32, sector: UInt64) -> MockDriverQueue.Buffer {
        let address = driver.allocate(16)
        try? driver.memory.store(type, at: GuestAddress(address))
        try? driver.memory.store(sector, at: GuestAddress(address + 8))
        return .init(address: address, length: 16, writable: false)
    }

    func statusBuffer() -> MockDriverQueue.Buffer {
        .init(address: driver.allocate(1, filledWith: 0xee), length: 1, writable: true)
    }

    func status(_ buffer: MockDriverQueue.Buffer) -> UInt8? {
        try? driver.memory.load(UInt8.self, at: GuestAddress(buffer.address))
    }

    func run() throws -> [(head: UInt32, length: UInt32)] {
        _ = try device.queueNotified(0)
        return driver.takeUsed()
    }
}

@Suite struct VirtioBlockRequestTests {
    @Test func writeThenReadRoundTripsThroughTheBackend() throws {
        let disk = try BlockHarness()
        let data = disk.driver.allocate(1024, filledWith: 0x5a)
        let writeStatus = disk.statusBuffer()
        disk.driver.addChain([
            disk.header(type: 1, sector: 3), .init(address: data, length: 512, writable: false),
            .init(address: data + 512, length: 512, writable: false), writeStatus,
        ])
        let readBuffer = disk.driver.allocate(1024)
        let readStatus = disk.statusBuffer()
        disk.driver.addChain([
            disk.header(type: 0, sector: 3), .init(address: readBuffer, length: 1024, writable: true), readStatus,
        ])
        let used = try disk.run()
        #expect(used.map(\.length) == [1, 1025], "write: status only; read: data + status")
        #expect(disk.status(writeStatus) == 0 && disk.status(readStatus) == 0)
        #expect(disk.backend.calls == ["write 1536 1024", "read 1536 1024"])
        #expect(
            try disk.driver.memory.readBytes(at: GuestAddress(readBuffer), count: 1024)
                == [UInt8](repeating: 0x5a, count: 1024))
    }

    @Test func flushCompletesOnlyAfterTheBackendFlushed() throws {
        let disk = try BlockHarness()
        let status = disk.statusBuffer()
        disk.driver.addChain([disk.header(type: 4, sector: 0), status])
        let used = try disk.run()
        #expect(disk.backend.calls == ["flush"])
        #expect(disk.backend.usedIndexAtFlush == 0, "the request was not completed while flushing")
        #expect(used.count == 1 && disk.status(status) == 0)
    }

    @Test func getIdentifierWritesTheSerialPadded() throws {
        let disk = try BlockHarness()
        let id = disk.driver.allocate(20, filledWith: 0xff)
        let status = disk.statusBuffer()
        disk.driver.addChain([disk.header(type: 8, sector: 0), .init(address: id, length: 20, writable: true), status])
        #expect(try disk.run().map(\.length) == [21])
        let bytes = try disk.driver.memory.readBytes(at: GuestAddress(id), count: 20)
        #expect(bytes == Array("disk-serial-01".utf8) + [0, 0, 0, 0, 0, 0])
    }

    @Test func discardAndWriteZeroesPassTheirRanges() throws {
        let disk = try BlockHarness()
        for (type, flags) in [(UInt32(11), UInt32(0)), (13, 1)] {
            let range = disk.driver.allocate(16)
            try disk.driver.memory.store(UInt64(8), at: GuestAddress(range))
            try disk.driver.memory.store(UInt32(4), at: GuestAddress(range + 8))
            try disk.driver.memory.store(flags, at: GuestAddress(range + 12))
            let status = disk.statusBuffer()
            disk.driver.addChain([
                disk.header(type: type, sector: 0), .init(address: range, length: 16, writable: false), status,
            ])
            _ = try disk.run()
            #expect(disk.status(status) == 0)
        }
        #expect(disk.backend.calls == ["discard 4096 2048", "write-zeroes 4096 2048 true"])
    }

    @Test func unknownTypesAreUnsupported() throws {
        let disk = try BlockHarness()
        let status = disk.statusBuffer()
        disk.driver.addChain([disk.header(type: 99, sector: 0), status])
        _ = try disk.run()
        #expect(disk.status(status) == 2)
        #expect(disk.backend.calls.isEmpty)
    }

    @Test func readOnlyDisksRefuseWritesWithoutTouchingTheBackend() throws {
        let disk = try BlockHarness(readOnly: true)
        let status = disk.statusBuffer()
        disk.driver.addChain([
            disk.header(type: 1, sector: 0), .init(address: disk.driver.allocate(512), length: 512, writable: false),
            status,
        ])
        _ = try disk.run()
        #expect(disk.status(status) == 1)
        #expect(disk.backend.calls.isEmpty)
        #expect(disk.device.deviceFeatures & VirtioBlock.Feature.readOnly != 0)
    }

    @Test func malformedRequestsGetIOErrorAndTheQueueGoesOn() throws {
        let disk = try BlockHarness()
        var statuses: [MockDriverQueue.Buffer] = []
        // Short header: 8 readable bytes.
        var status = disk.statusBuffer()
        statuses.append(status)
        disk.driver.addChain([.init(address: disk.driver.allocate(8), length: 8, writable: false), status])
        // Read whose data buffer is device-readable (wrong direction).
        status = disk.statusBuffer()
        statuses.append(status)
        disk.driver.addChain([
            disk.header(type: 0, sector: 0), .init(address: disk.driver.allocate(512), length: 512, writable: false),
            status,
        ])
        // Write whose data buffer is device-writable (wrong direction).
        status = disk.statusBuffer()
        statuses.append(status)
        disk.driver.addChain([
            disk.header(type: 1, sector: 0), .init(address: disk.driver.allocate(512), length: 512, writable: true),
            status,
        ])
        // Sector so large its byte offset overflows.
        status = disk.statusBuffer()
        statuses.append(status)
        disk.driver.addChain([
            disk.header(type: 0, sector: UInt64.max / 2),
            .init(address: disk.driver.allocate(512), length: 512, writable: true),
            status,
        ])
        // Past the end of the 64-sector disk.
        status = disk.statusBuffer()
        statuses.append(status)
        disk.driver.addChain([
            disk.header(type: 0, sector: 64), .init(address: disk.driver.allocate(512), length: 512, writable: true),
            status,
        ])
        // Length not a multiple of 512.
        status = disk.statusBuffer()
        statuses.append(status)
        disk.driver.addChain([
            disk.header(type: 1, sector: 0), .init(address: disk.driver.allocate(100), length: 100, writable: false),
            status,
        ])
        // No status byte at all: completed with length 0.
        disk.driver.addChain([disk.header(type: 4, sector: 0)])
        // And a good request after all that.
        let good = disk.statusBuffer()
        disk.driver.addChain([disk.header(type: 4, sector: 0), good])
        let used = try disk.run()
        #expect(used.count == 8)
        #expect(statuses.map { disk.status($0) } == [1, 1, 1, 1, 1, 1])
        #expect(used[6].length == 0, "no status byte")
        #expect(disk.status(good) == 0)
        #expect(
            disk.backend.calls == ["read 32768 512", "flush"], "only the past-end read reached the backend (and failed)"
        )
    }

    @Test func adjacentReadsAndWritesAreMergedIntoOneBackendCall() throws {
        let disk = try BlockHarness()
        var statuses: [MockDriverQueue.Buffer] = []
        for sector in [UInt64(0), 1, 2, 10] {  // 0–2 adjacent, 10 not
            let status = disk.statusBuffer()
            statuses.append(status)
            disk.driver.addChain([
                disk.header(type: 1, sector: sector),
                .init(address: disk.driver.allocate(512, filledWith: UInt8(sector)), length: 512, writable: false),
                status,
            ])
        }
        let flushStatus = disk.statusBuffer()
        disk.driver.addChain([disk.header(type: 4, sector: 0), flushStatus])
        for sector in [UInt64(0), 1] {
            let status = disk.statusBuffer()
            statuses.append(status)
            disk.driver.addChain([
                disk.header(type: 0, sector: sector),
                .init(address: disk.driver.allocate(512), length: 512, writable: true),
                status,
            ])
        }
        let used = try disk.run()
        #expect(used.count == 7)
        #expect(disk.backend.calls == ["write 0 1536", "write 5120 512", "flush", "read 0 1024"])
        #expect(statuses.allSatisfy { disk.status($0) == 0 } && disk.status(flushStatus) == 0)
        #expect(disk.backend.bytes[512] == 1 && disk.backend.bytes[1024] == 2 && disk.backend.bytes[5120] == 10)
        #expect(used.map(\.length) == [1, 1, 1, 1, 1, 513, 513], "completed in order, each with its own length")
    }

    @Test func aFailedMergedTransferIsRetriedRequestByRequest() throws {
        let disk = try BlockHarness(sectors: 2)
        var statuses: [MockDriverQueue.Buffer] = []
        for sector in [UInt64(1), 2] {  // sector 2 is past the end of a 2-sector disk
            let status = disk.statusBuffer()
            statuses.append(status)
            disk.driver.addChain([
                disk.header(type: 1, sector: sector),
                .init(address: disk.driver.allocate(512), length: 512, writable: false),
                status,
            ])
        }
        _ = try disk.run()
        #expect(disk.backend.calls == ["write 512 1024", "write 512 512", "write 1024 512"])
        #expect(statuses.map { disk.status($0) } == [0, 1])
    }

    @Test func configurationSpaceHasCapacityAndDiscardLimits() throws {
        let disk = try BlockHarness(sectors: 2048)
        #expect(disk.device.readConfiguration(offset: 0, size: 4) == 2048)
        #expect(disk.device.readConfiguration(offset: 4, size: 4) == 0)
        #expect(disk.device.readConfiguration(offset: 20, size: 4) == 512)
        #expect(disk.device.readConfiguration(offset: 12, size: 4) == 254, "seg_max")
        #expect(disk.device.readConfiguration(offset: 36, size: 4) == 1 << 21, "max_discard_sectors")
        #expect(disk.device.readConfiguration(offset: 40, size: 4) == 1, "max_discard_seg")
        #expect(disk.device.readConfiguration(offset: 48, size: 4) == 1 << 15, "max_write_zeroes_sectors")
        #expect(disk.device.readConfiguration(offset: 52, size: 4) == 1, "max_write_zeroes_seg")
        #expect(disk.device.readConfiguration(offset: 56, size: 1) == 1, "write_zeroes_may_unmap")
        #expect(disk.device.readConfiguration(offset: 4000, size: 4) == 0, "past the end reads zero")
    }
}

@Suite struct FileBlockBackendTests {
    private func scratchImage(bytes: Int) throws -> String {
        let path = "/var/tmp/swiftvmm-backend-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).img"
        let fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0o644)
        #expect(fd >= 0)
        ftruncate(fd, off_t(bytes))
        close(fd)
        return path
    }

    @Test(arguments: [false, true])
    func alignedAndUnalignedBuffersReachTheFile(directIO: Bool) throws {
        let path = try scratchImage(bytes: 64 * 1024)
        defer { unlink(path) }
        let backend = try FileBlockBackend(path: path, readOnly: false, directIO: directIO)
        let memory = try GuestMemory(totalBytes: 1 << 20)
        // 512-aligned (O_DIRECT path) and at an odd address (the buffered fallback with cache=none).
        for (address, sector) in [(UInt64(0x1_0000), UInt64(0)), (0x2_0001, 8)] {
            try memory.fill(UInt8(sector + 1), count: 4096, at: GuestAddress(address))
            let buffers = [DescriptorBuffer(address: GuestAddress(address), length: 4096)]
            #expect(backend.write(at: sector * 512, from: buffers, memory: memory) == .ok)
            try memory.fill(0, count: 4096, at: GuestAddress(address))
            #expect(backend.read(at: sector * 512, into: buffers, memory: memory) == .ok)
            #expect(
                try memory.readBytes(at: GuestAddress(address), count: 4096)
                    == [UInt8](repeating: UInt8(sector + 1), count: 4096))
        }
        #expect(backend.flush() == .ok)
        #expect(
            backend.read(
                at: 64 * 1024, into: [DescriptorBuffer(address: GuestAddress(0x1_0000), length: 512)], memory: memory)
                == .ioError)
    }

    @Test func locksAreSharedForReadersAndExclusiveForWriters() throws {
        let path = try scratchImage(bytes: 4096)
        defer { unlink(path) }
        let reader = try FileBlockBackend(path: path, readOnly: true, directIO: false)
        _ = try FileBlockBackend(path: path, readOnly: true, directIO: false)  // a second reader is fine
        #expect(throws: BlockBackendError.locked(path: path, readOnly: false)) {
            try FileBlockBackend(path: path, readOnly: false, directIO: false)
        }
        _ = reader
    }

    @Test func readOnlyBackendsRefuseWritesAndDiscards() throws {
        let path = try scratchImage(bytes: 4096)
        defer { unlink(path) }
        let backend = try FileBlockBackend(path: path, readOnly: true, directIO: false)
        let memory = try GuestMemory(totalBytes: 1 << 20)
        #expect(
            backend.write(at: 0, from: [DescriptorBuffer(address: GuestAddress(0), length: 512)], memory: memory)
                == .ioError)
        #expect(backend.discard(at: 0, length: 512) == .unsupported)
        #expect(!backend.supportsDiscard)
    }
}
