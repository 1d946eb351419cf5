import EventLoop
import GuestMemory
import Testing
@_spi(ExitPath) import Virtio
import VirtioTestSupport

@_spi(ExitPath) @testable import Devices

@Suite struct VirtioEntropyTests {
    private func activated(eventIndex: Bool = false) throws -> (VirtioEntropy, MockDriverQueue, EventFD) {
        let memory = try GuestMemory(totalBytes: 1 << 20)
        let driver = MockDriverQueue(memory: memory, size: 16)
        let line = try EventFD()
        let queue = try SplitQueue(
            layout: driver.layout, memory: memory, eventIndex: eventIndex, indirectDescriptors: true)
        let device = VirtioEntropy()
        try device.activate(
            VirtioActivation(queues: [queue], memory: memory, features: 0, interrupt: VirtioInterrupt(line: line)))
        return (device, driver, line)
    }

    @Test func fillsEveryWritableBufferOfEachRequest() throws {
        let (device, driver, line) = try activated()
        let first = driver.allocate(64)
        let second = (driver.allocate(16), driver.allocate(1), driver.allocate(47))
        driver.addChain([.init(address: first, length: 64, writable: true)])
        driver.addChain([
            .init(address: second.0, length: 16, writable: true), .init(address: second.1, length: 1, writable: true),
            .init(address: second.2, length: 47, writable: true),
        ])
        _ = try device.queueNotified(0)
        #expect(driver.takeUsed().map(\.length) == [64, 64])
        #expect(try driver.memory.readBytes(at: GuestAddress(first), count: 64).contains { $0 != 0 })
        #expect(line.drain() == 1, "one interrupt for the batch")
        #expect(device.requestsCompleted == 2)
    }

    @Test func malformedOrReadOnlyRequestsCompleteWithLengthZero() throws {
        let (device, driver, _) = try activated()
        driver.addChain([.init(address: driver.allocate(8), length: 8, writable: false)])  // nothing to write into
        driver.writeDescriptor(index: 5, address: 0xfff00, length: 0x1000, flags: MockDriverQueue.flagWrite, next: 0)
        driver.makeAvailable(head: 5)  // outside memory
        driver.addChain([.init(address: driver.allocate(8), length: 8, writable: true)])
        _ = try device.queueNotified(0)
        #expect(driver.takeUsed().map(\.length) == [0, 0, 8])
    }

    @Test func eventIndexCanSuppressTheInterrupt() throws {
        let (device, driver, line) = try activated(eventIndex: true)
        driver.setUsedEvent(5)
        driver.addChain([.init(address: driver.allocate(8), length: 8, writable: true)])
        _ = try device.queueNotified(0)
        #expect(line.drain() == nil)
        for _ in 0..<5 { driver.addChain([.init(address: driver.allocate(8), length: 8, writable: true)]) }
        _ = try device.queueNotified(0)
        #expect(line.drain() == 1)
    }

    @Test func resetDropsTheQueue() throws {
        let (device, driver, _) = try activated()
        device.reset()
        driver.addChain([.init(address: driver.allocate(8), length: 8, writable: true)])
        _ = try device.queueNotified(0)
        #expect(driver.takeUsed().isEmpty)
    }

    @Test func activationNeedsTheRequestQueue() throws {
        let memory = try GuestMemory(totalBytes: 1 << 20)
        #expect(throws: VirtioDeviceError.self) {
            try VirtioEntropy().activate(
                VirtioActivation(queues: [nil], memory: memory, features: 0, interrupt: VirtioInterrupt(line: nil)))
        }
    }
}
