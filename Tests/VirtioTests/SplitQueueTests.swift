import GuestMemory
import Testing
@_spi(ExitPath) import Virtio
import VirtioTestSupport

private func makeQueue(size: UInt16 = 16, eventIndex: Bool = false, indirect: Bool = true) throws -> (
    MockDriverQueue, SplitQueue
) {
    let memory = try GuestMemory(totalBytes: 8 << 20)
    let driver = MockDriverQueue(memory: memory, size: size)
    let queue = try SplitQueue(
        layout: driver.layout, memory: memory, eventIndex: eventIndex, indirectDescriptors: indirect)
    return (driver, queue)
}

private func validChain(_ popped: AvailableChain?) throws -> DescriptorChain {
    guard case .valid(let chain) = try #require(popped) else {
        Issue.record("expected a valid chain, got \(String(describing: popped))")
        throw QueueError.emptyChain
    }
    return chain
}

@Suite struct SplitQueueChainTests {
    @Test func emptyQueueHasNothingAvailable() throws {
        let (_, queue) = try makeQueue()
        #expect(try queue.popAvailable() == nil)
    }

    @Test func readableThenWritableChainIsSplitAndStreamed() throws {
        let (driver, queue) = try makeQueue()
        let header = driver.allocate(16, filledWith: 0x11)
        let payload = driver.allocate(100, filledWith: 0x22)
        let reply = driver.allocate(8)
        let status = driver.allocate(1)
        let head = driver.addChain([
            .init(address: header, length: 16, writable: false), .init(address: payload, length: 100, writable: false),
            .init(address: reply, length: 8, writable: true), .init(address: status, length: 1, writable: true),
        ])
        let chain = try validChain(try queue.popAvailable())
        #expect(chain.head == head && chain.readable.count == 2 && chain.writable.count == 2)
        #expect(chain.readableLength == 116 && chain.writableLength == 9)
        var reader = ChainReader(chain, memory: driver.memory)
        #expect(try reader.read(count: 20) == [UInt8](repeating: 0x11, count: 16) + [UInt8](repeating: 0x22, count: 4))
        #expect(reader.remaining == 96)
        #expect(throws: ChainAccessError.shortChain(needed: 97, available: 96)) { try reader.read(count: 97) }
        var writer = ChainWriter(chain, memory: driver.memory)
        try writer.write(UInt64(0x0102_0304_0506_0708))
        try writer.write([0xaa])
        #expect(writer.written == 9)
        #expect(throws: ChainAccessError.self) { try writer.write([1]) }
        #expect(try driver.memory.readBytes(at: GuestAddress(status), count: 1) == [0xaa])
        try queue.addUsed(head: chain.head, length: writer.written)
        #expect(driver.takeUsed().map { [$0.head, $0.length] } == [[UInt32(head), 9]])
    }

    @Test func indirectTableChainsAreFollowed() throws {
        let (driver, queue) = try makeQueue()
        let buffers = (0..<4).map { _ in
            MockDriverQueue.Buffer(address: driver.allocate(32), length: 32, writable: true)
        }
        let head = driver.addIndirectChain(buffers)
        let chain = try validChain(try queue.popAvailable())
        #expect(chain.head == head && chain.writable.count == 4 && chain.readable.isEmpty)
    }

    @Test func chainsWrapAroundTheRings() throws {
        let (driver, queue) = try makeQueue(size: 4)
        for round in 0..<10 {
            let head = driver.addChain([.init(address: driver.allocate(4), length: 4, writable: true)])
            let chain = try validChain(try queue.popAvailable())
            #expect(chain.head == head, "round \(round)")
            try queue.addUsed(head: chain.head, length: 4)
            #expect(driver.takeUsed().count == 1)
        }
        #expect(queue.nextAvailable == 10 && queue.usedIndex == 10)
    }

    /// Each malformed chain ends its own request; the queue stays usable for the next one.
    @Test(arguments: MalformedChain.allCases)
    func malformedChainsFailAloneAndTheQueueGoesOn(kind: MalformedChain) throws {
        let (driver, queue) = try makeQueue(indirect: kind != .indirectNotNegotiated)
        let head = kind.write(into: driver)
        guard case .malformed(let reportedHead, let error) = try #require(try queue.popAvailable()) else {
            Issue.record("\(kind) was accepted")
            return
        }
        #expect(reportedHead == head)
        #expect(kind.matches(error), "\(kind): \(error)")
        #expect(!error.breaksQueue)
        try queue.addUsed(head: reportedHead, length: 0)
        let next = driver.addChain([.init(address: driver.allocate(8), length: 8, writable: true)])
        #expect(try validChain(try queue.popAvailable()).head == next)
    }
}

@Suite struct ChainLimitTests {
    /// A chain of 1024 descriptors (QEMU's limit) is taken; one of 1025 is not, however large
    /// the queue: the work and memory one request costs stay bounded.
    @Test func chainsHaveAtMost1024Descriptors() throws {
        for (count, accepted) in [(1024, true), (1025, false)] {
            let (driver, queue) = try makeQueue(size: 2048)
            let data = driver.allocate(8)
            let buffers = [MockDriverQueue.Buffer](
                repeating: .init(address: data, length: 8, writable: true), count: count)
            let head = driver.addChain(buffers)
            let popped = try #require(try queue.popAvailable())
            switch popped {
            case .valid(let chain):
                #expect(accepted, "\(count) descriptors")
                #expect(chain.writable.count == count)
            case .malformed(let reportedHead, let error):
                #expect(!accepted, "\(count) descriptors: \(error)")
                #expect(reportedHead == head)
                #expect(error == .chainTooLong(limit: 1024))
            }
        }
    }

    /// The same holds for an indirect table: 1024 entries work, and a direct descriptor in
    /// front of the table counts too.
    @Test func indirectTablesCountTowardsTheLimit() throws {
        let (driver, queue) = try makeQueue()
        let data = driver.allocate(8)
        driver.addIndirectChain(
            [MockDriverQueue.Buffer](repeating: .init(address: data, length: 8, writable: true), count: 1024))
        guard case .valid(let chain) = try #require(try queue.popAvailable()) else {
            Issue.record("a 1024-entry indirect table was refused")
            return
        }
        #expect(chain.writable.count == 1024)
    }
}

/// Malformed chains a guest can write.
enum MalformedChain: String, CaseIterable, CustomTestStringConvertible {
    case headIndexOutOfRange, nextIndexOutOfRange, loop, bufferOutsideMemory, addressOverflow
    case readableAfterWritable, nestedIndirect, indirectWithNext, indirectBadLength, indirectTableOutsideMemory
    case indirectNotNegotiated, lengthOverflow, indirectTableTooLarge

    var testDescription: String { rawValue }

    func write(into driver: MockDriverQueue) -> UInt16 {
        let data = driver.allocate(64)
        switch self {
        case .headIndexOutOfRange:
            driver.makeAvailable(head: 99)
            return 99
        case .nextIndexOutOfRange:
            driver.writeDescriptor(index: 0, address: data, length: 8, flags: MockDriverQueue.flagNext, next: 200)
        case .loop:
            driver.writeDescriptor(index: 0, address: data, length: 8, flags: MockDriverQueue.flagNext, next: 1)
            driver.writeDescriptor(index: 1, address: data, length: 8, flags: MockDriverQueue.flagNext, next: 0)
        case .bufferOutsideMemory:
            driver.writeDescriptor(index: 0, address: 0x7f_f000, length: 0x2000, flags: 0, next: 0)
        case .addressOverflow:
            driver.writeDescriptor(index: 0, address: UInt64.max - 4, length: 16, flags: 0, next: 0)
        case .readableAfterWritable:
            driver.writeDescriptor(
                index: 0, address: data, length: 8, flags: MockDriverQueue.flagNext | MockDriverQueue.flagWrite, next: 1
            )
            driver.writeDescriptor(index: 1, address: data, length: 8, flags: 0, next: 0)
        case .nestedIndirect:
            let table = driver.allocate(32)
            driver.writeDescriptor(index: 0, address: table, length: 32, flags: MockDriverQueue.flagIndirect, next: 0)
            try? driver.memory.store(table, at: GuestAddress(table))
            try? driver.memory.store(UInt32(32), at: GuestAddress(table + 8))
            try? driver.memory.store(MockDriverQueue.flagIndirect, at: GuestAddress(table + 12))
        case .indirectWithNext:
            let table = driver.allocate(16)
            driver.writeDescriptor(
                index: 0, address: table, length: 16, flags: MockDriverQueue.flagIndirect | MockDriverQueue.flagNext,
                next: 1)
        case .indirectBadLength:
            driver.writeDescriptor(index: 0, address: data, length: 20, flags: MockDriverQueue.flagIndirect, next: 0)
        case .indirectTableOutsideMemory:
            driver.writeDescriptor(
                index: 0, address: 0x80_0000, length: 64, flags: MockDriverQueue.flagIndirect, next: 0)
        case .indirectNotNegotiated:
            let table = driver.allocate(16)
            driver.writeDescriptor(index: 0, address: table, length: 16, flags: MockDriverQueue.flagIndirect, next: 0)
        case .indirectTableTooLarge:
            // 1025 entries: more than the 1024 descriptors a chain may have.
            let table = driver.allocate(16 * 1025)
            driver.writeDescriptor(
                index: 0, address: table, length: 16 * 1025, flags: MockDriverQueue.flagIndirect, next: 0)
        case .lengthOverflow:
            // Every buffer is all of the 8 MiB RAM, which is in bounds on its own; 1024 of them
            // (an indirect table of the largest allowed size) add up to more than 4 GiB.
            let count = 1024
            let table = driver.allocate(UInt32(16 * count))
            for index in 0..<count {
                let base = GuestAddress(table + UInt64(16 * index))
                try? driver.memory.store(UInt64(0), at: base)
                try? driver.memory.store(UInt32(0x80_0000), at: GuestAddress(base.rawValue + 8))
                try? driver.memory.store(UInt16(index == count - 1 ? 0 : 1), at: GuestAddress(base.rawValue + 12))
                try? driver.memory.store(UInt16(index + 1), at: GuestAddress(base.rawValue + 14))
            }
            driver.writeDescriptor(
                index: 0, address: table, length: UInt32(16 * count), flags: MockDriverQueue.flagIndirect, next: 0)
        }
        driver.makeAvailable(head: 0)
        return 0
    }

    func matches(_ error: QueueError) -> Bool {
        switch (self, error) {
        case (.headIndexOutOfRange, .descriptorIndexOutOfRange), (.nextIndexOutOfRange, .descriptorIndexOutOfRange),
            (.loop, .chainTooLong), (.bufferOutsideMemory, .bufferOutsideMemory),
            (.addressOverflow, .bufferOutsideMemory),
            (.readableAfterWritable, .readableAfterWritable), (.nestedIndirect, .nestedIndirectTable),
            (.indirectWithNext, .indirectWithNext), (.indirectBadLength, .badIndirectTableLength),
            (.indirectTableOutsideMemory, .bufferOutsideMemory), (.indirectNotNegotiated, .indirectNotNegotiated),
            (.lengthOverflow, .chainLengthOverflow), (.indirectTableTooLarge, .badIndirectTableLength(16 * 1025)):
            return true
        default:
            return false
        }
    }
}

@Suite struct SplitQueueRingTests {
    @Test func anAvailableIndexJumpBreaksTheQueue() throws {
        let (driver, queue) = try makeQueue(size: 8)
        driver.setAvailableIndex(9)
        #expect {
            try queue.popAvailable()
        } throws: { error in
            (error as? QueueError)?.breaksQueue == true
        }
    }

    @Test func ringsMustBeInsideMemoryAlignedAndAPowerOfTwo() throws {
        let memory = try GuestMemory(totalBytes: 1 << 20)
        let good = QueueLayout(size: 16, descriptorTable: 0x1000, availableRing: 0x2000, usedRing: 0x3000)
        _ = try SplitQueue(layout: good, memory: memory, eventIndex: false, indirectDescriptors: false)
        for layout in [
            QueueLayout(size: 12, descriptorTable: 0x1000, availableRing: 0x2000, usedRing: 0x3000),
            QueueLayout(size: 0, descriptorTable: 0x1000, availableRing: 0x2000, usedRing: 0x3000),
            QueueLayout(size: 16, descriptorTable: 0x1008, availableRing: 0x2000, usedRing: 0x3000),
            QueueLayout(size: 16, descriptorTable: 0x1000, availableRing: 0x2001, usedRing: 0x3000),
            QueueLayout(size: 16, descriptorTable: 0x1000, availableRing: 0x2000, usedRing: 0x3002),
            QueueLayout(size: 16, descriptorTable: 0x1000, availableRing: 0x2000, usedRing: 0xfffc0),
            QueueLayout(size: 16, descriptorTable: UInt64.max - 8, availableRing: 0x2000, usedRing: 0x3000),
        ] {
            #expect(throws: QueueError.self, "\(layout)") {
                try SplitQueue(layout: layout, memory: memory, eventIndex: false, indirectDescriptors: false)
            }
        }
    }

    @Test func withoutEventIndexTheNoInterruptFlagDecides() throws {
        let (driver, queue) = try makeQueue()
        #expect(try queue.needsInterrupt() == false, "nothing used")
        driver.addChain([.init(address: driver.allocate(4), length: 4, writable: true)])
        try queue.addUsed(head: try #require(try queue.popAvailable()).head, length: 4)
        #expect(try queue.needsInterrupt())
        driver.setNoInterrupt(true)
        driver.addChain([.init(address: driver.allocate(4), length: 4, writable: true)])
        try queue.addUsed(head: try #require(try queue.popAvailable()).head, length: 4)
        #expect(try queue.needsInterrupt() == false)
    }

    @Test func eventIndexSuppressesInterruptsUntilUsedEvent() throws {
        let (driver, queue) = try makeQueue(eventIndex: true)
        driver.setUsedEvent(2)  // interrupt once the third used entry (index 2) is written
        var interrupts: [Bool] = []
        for _ in 0..<4 {
            driver.addChain([.init(address: driver.allocate(4), length: 4, writable: true)])
            try queue.addUsed(head: try #require(try queue.popAvailable()).head, length: 4)
            interrupts.append(try queue.needsInterrupt())
        }
        #expect(interrupts == [false, false, true, false])
    }

    @Test func eventIndexBatchesCrossingUsedEventInterruptOnce() throws {
        let (driver, queue) = try makeQueue(eventIndex: true)
        driver.setUsedEvent(1)
        for _ in 0..<3 { driver.addChain([.init(address: driver.allocate(4), length: 4, writable: true)]) }
        while let chain = try queue.popAvailable() { try queue.addUsed(head: chain.head, length: 4) }
        #expect(try queue.needsInterrupt())
        #expect(try queue.needsInterrupt() == false, "nothing new since")
    }

    @Test func eventIndexTellsTheDriverWhenToNotify() throws {
        let (driver, queue) = try makeQueue(eventIndex: true)
        for _ in 0..<3 { driver.addChain([.init(address: driver.allocate(4), length: 4, writable: true)]) }
        try queue.disableNotifications()
        _ = try queue.popAvailable()
        #expect(driver.availableEvent == 0, "while draining, avail_event stays behind: no notifications")
        _ = try queue.popAvailable()
        _ = try queue.popAvailable()
        #expect(try queue.enableNotifications() == false, "nothing new")
        #expect(driver.availableEvent == 3, "notify me when entry 3 is added")
        driver.addChain([.init(address: driver.allocate(4), length: 4, writable: true)])
        #expect(try queue.enableNotifications(), "an entry added meanwhile is noticed")
    }

    @Test func withoutEventIndexTheNoNotifyFlagIsSetWhileDraining() throws {
        let (driver, queue) = try makeQueue()
        try queue.disableNotifications()
        #expect(try driver.memory.load(UInt16.self, at: GuestAddress(driver.layout.usedRing)) == 1)
        #expect(try queue.enableNotifications() == false)
        #expect(try driver.memory.load(UInt16.self, at: GuestAddress(driver.layout.usedRing)) == 0)
    }
}

@Suite struct RingOverlapTests {
    /// Rings that overlap are refused: with the used ring's flags on top of the available index
    /// (found by the net fuzzer), the device's own NO_NOTIFY writes changed the index it then
    /// re-checked, and a transmit notification never ended.
    @Test func overlappingRingsAreRefused() throws {
        let memory = try GuestMemory(totalBytes: 1 << 20)
        let good = MockDriverQueue(memory: memory, size: 16).layout
        var usedOnAvailable = good
        usedOnAvailable.usedRing = good.availableRing + 2
        var availableInTable = good
        availableInTable.availableRing = good.descriptorTable + 64
        var usedInTable = good
        usedInTable.usedRing = good.descriptorTable + 16 * 15
        for layout in [usedOnAvailable, availableInTable, usedInTable] {
            #expect(throws: QueueError.self, "\(layout)") {
                try SplitQueue(layout: layout, memory: memory, eventIndex: false, indirectDescriptors: false)
            }
        }
        _ = try SplitQueue(layout: good, memory: memory, eventIndex: false, indirectDescriptors: false)
    }
}
