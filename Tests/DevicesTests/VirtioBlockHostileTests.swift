import GuestMemory
import Testing
@_spi(ExitPath) import Virtio
import VirtioTestSupport

@_spi(ExitPath) @testable import Devices

/// What a hostile driver can send a virtio-blk device: each request completes with an error
/// status, the device keeps working, and host memory and work stay bounded.
@Suite struct VirtioBlockHostileTests {
    /// Sector numbers at the end of the 64-bit range: the byte offset, the end sector of a run
    /// and a merge with the next request all overflow. Each fails alone with IOERR.
    @Test(arguments: [UInt64.max, UInt64.max - 1, UInt64.max / 512, UInt64.max / 512 + 1, 1 << 55])
    func requestsAtTheEndOfTheSectorRangeFailWithIOError(sector: UInt64) throws {
        let disk = try BlockHarness()
        var statuses: [MockDriverQueue.Buffer] = []
        for type in [UInt32(0), 1, 0] {  // read, write, read: adjacent requests try to merge
            let data = disk.driver.allocate(512)
            let status = disk.statusBuffer()
            statuses.append(status)
            disk.driver.addChain([
                disk.header(type: type, sector: sector), .init(address: data, length: 512, writable: type == 0),
                status,
            ])
        }
        let used = try disk.run()
        #expect(used.count == 3)
        #expect(statuses.map { disk.status($0) } == [1, 1, 1])
        // The device goes on: a good read afterwards works.
        let status = disk.statusBuffer()
        disk.driver.addChain([
            disk.header(type: 0, sector: 0), .init(address: disk.driver.allocate(512), length: 512, writable: true),
            status,
        ])
        _ = try disk.run()
        #expect(disk.status(status) == 0)
    }

    /// A merge run never wraps around the end of the sector range.
    @Test func mergeRunsStopWhereTheSectorWouldOverflow() throws {
        let memory = try GuestMemory(totalBytes: 1 << 20)
        let buffer = DescriptorBuffer(address: GuestAddress(0x1000), length: 1024)
        func read(_ sector: UInt64) -> BlockRequest {
            BlockRequest(
                operation: .read(sector: sector, into: [buffer]), status: GuestAddress(0), writableDataLength: 0)
        }
        _ = memory
        let last = UInt64.max - 1  // two sectors: its end is 2^64, which overflows
        #expect(VirtioBlock.mergeableRun([read(last), read(0), read(2)], from: 0) == 0..<1)
        #expect(VirtioBlock.mergeableRun([read(4), read(6), read(8), read(last)], from: 0) == 0..<3)
        #expect(VirtioBlock.mergeableRun([read(last - 2), read(last)], from: 0) == 0..<2)
    }

    /// DISCARD with 1024 range descriptors that all alias the same 16 guest bytes, and the same
    /// head in every available slot: each request is refused before any range is read (more
    /// ranges than max_discard_seg), so host memory does not grow with how often the guest
    /// names its buffers.
    @Test func discardWithMoreRangesThanAdvertisedIsRefusedBeforeItIsRead() throws {
        let disk = try BlockHarness(queueSize: 64)
        let range = disk.driver.allocate(16)
        try disk.driver.memory.store(UInt64(0), at: GuestAddress(range))
        try disk.driver.memory.store(UInt32(1), at: GuestAddress(range + 8))
        let header = disk.header(type: 11, sector: 0)
        let status = disk.statusBuffer()
        let ranges = [MockDriverQueue.Buffer](
            repeating: .init(address: range, length: 16, writable: false), count: 1022)
        let head = disk.driver.addIndirectChain([header] + ranges + [status])
        for _ in 1..<64 { disk.driver.makeAvailable(head: head) }
        var used: [(head: UInt32, length: UInt32)] = []
        while used.count < 64 { used += try disk.run() }
        #expect(used.count == 64)
        #expect(disk.status(status) == 1, "IOERR")
        #expect(disk.backend.calls.isEmpty, "nothing reached the disk")
    }

    /// The sector count of one range is checked against what the device advertises, and flags
    /// it does not know are UNSUPP: such requests never reach the backend.
    @Test func rangeLimitsAndFlagsAreEnforced() throws {
        let disk = try BlockHarness()
        // Status nil: the request reaches the backend (which fails it: the test disk is small).
        let cases: [(type: UInt32, sectors: UInt32, flags: UInt32, status: UInt8?)] = [
            (13, 1 << 15, 0, nil), (13, (1 << 15) + 1, 0, 1), (11, 1 << 21, 0, nil), (11, (1 << 21) + 1, 0, 1),
            (11, 8, 1, 2), (13, 8, 2, 2), (13, 8, 1, 0),
        ]
        for request in cases {
            let callsBefore = disk.backend.calls.count
            let range = disk.driver.allocate(16)
            try disk.driver.memory.store(UInt64(0), at: GuestAddress(range))
            try disk.driver.memory.store(request.sectors, at: GuestAddress(range + 8))
            try disk.driver.memory.store(request.flags, at: GuestAddress(range + 12))
            let status = disk.statusBuffer()
            disk.driver.addChain([
                disk.header(type: request.type, sector: 0), .init(address: range, length: 16, writable: false), status,
            ])
            _ = try disk.run()
            if let expected = request.status {
                #expect(disk.status(status) == expected, "\(request)")
                #expect(disk.backend.calls.count == callsBefore + (expected == 0 ? 1 : 0), "\(request)")
            } else {
                #expect(disk.backend.calls.count == callsBefore + 1, "\(request) reaches the backend")
            }
        }
    }

    /// A read or write with more data segments than seg_max is refused.
    @Test func moreDataSegmentsThanSegMaxAreRefused() throws {
        let disk = try BlockHarness(sectors: 1024)
        let data = disk.driver.allocate(512)
        for (count, expected) in [(254, UInt8(0)), (255, 1)] {
            let status = disk.statusBuffer()
            let segments = [MockDriverQueue.Buffer](
                repeating: .init(address: data, length: 512, writable: true), count: count)
            disk.driver.addIndirectChain([disk.header(type: 0, sector: 0)] + segments + [status])
            _ = try disk.run()
            #expect(disk.status(status) == expected, "\(count) segments")
        }
    }

    /// One notification handles at most `QueueWork.budget` requests and says more are pending:
    /// the I/O thread gets back to its other events (and to a stop request) in between.
    @Test func eachNotificationDoesBoundedWork() throws {
        let disk = try BlockHarness(queueSize: 256)
        for _ in 0..<200 {
            disk.driver.addChain([disk.header(type: 4, sector: 0), disk.statusBuffer()])
        }
        var rounds: [Int] = []
        while true {
            let work = try disk.device.queueNotified(0)
            rounds.append(disk.driver.takeUsed().count)
            if work == .done { break }
            #expect(rounds.count < 10)
        }
        #expect(rounds == [64, 64, 64, 8])
    }
}
