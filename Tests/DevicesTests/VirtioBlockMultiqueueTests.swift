import GuestMemory
import Testing
@_spi(ExitPath) import Virtio
import VirtioTestSupport

@_spi(ExitPath) @testable import Devices

/// VIRTIO_BLK_F_MQ: several request queues, each drained on its own notification.
@Suite struct VirtioBlockMultiqueueTests {
    @Test func theFeatureAndNumQueuesAreOfferedOnlyWithSeveralQueues() throws {
        let single = VirtioBlock(backend: RecordingBackend(sectors: 8), serial: nil)
        #expect(single.queueMaximumSizes == [256])
        #expect(single.deviceFeatures & (1 << 12) == 0)
        let four = VirtioBlock(backend: RecordingBackend(sectors: 8), serial: nil, queueCount: 4)
        #expect(four.queueMaximumSizes == [256, 256, 256, 256])
        #expect(four.deviceFeatures & (1 << 12) != 0)
        #expect(four.readConfiguration(offset: 34, size: 2) == 4)
    }

    @Test func aQueueOtherThanZeroServesRequestsAndOthersAreIgnored() throws {
        let memory = try GuestMemory(totalBytes: 1 << 20)
        let driver = MockDriverQueue(memory: memory, size: 64)
        let backend = RecordingBackend(sectors: 64)
        let device = VirtioBlock(backend: backend, serial: nil, queueCount: 3)
        let queue = try SplitQueue(layout: driver.layout, memory: memory, eventIndex: false, indirectDescriptors: true)
        // Only queue 1 enabled (a driver may use fewer queues than offered).
        try device.activate(
            VirtioActivation(
                queues: [nil, queue, nil], memory: memory, features: 0, interrupt: VirtioInterrupt(line: nil)))
        let header = driver.allocate(16)
        try memory.store(UInt32(0), at: GuestAddress(header))
        try memory.store(UInt64(5), at: GuestAddress(header + 8))
        let data = driver.allocate(512)
        let status = driver.allocate(1, filledWith: 0xee)
        driver.addChain([
            .init(address: header, length: 16, writable: false), .init(address: data, length: 512, writable: true),
            .init(address: status, length: 1, writable: true),
        ])
        #expect(try device.queueNotified(0) == .done, "queue 0 is not enabled: nothing happens")
        #expect(try device.queueNotified(7) == .done, "no such queue: nothing happens")
        #expect(backend.calls.isEmpty)
        _ = try device.queueNotified(1)
        #expect(backend.calls == ["read 2560 512"])
        #expect(driver.takeUsed().map(\.length) == [513])
    }

    @Test func activationNeedsAtLeastOneQueue() throws {
        let memory = try GuestMemory(totalBytes: 1 << 20)
        let device = VirtioBlock(backend: RecordingBackend(sectors: 8), serial: nil, queueCount: 2)
        #expect(throws: VirtioDeviceError.self) {
            try device.activate(
                VirtioActivation(
                    queues: [nil, nil], memory: memory, features: 0, interrupt: VirtioInterrupt(line: nil)))
        }
    }
}
