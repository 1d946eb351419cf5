import EventLoop
import GuestMemory
import Synchronization
import Testing
@_spi(ExitPath) import Virtio
import VirtioTestSupport

/// A device that records what the transport asks of it.
final class RecordingDevice: VirtioDevice, Sendable {
    let calls = Mutex<[String]>([])
    let activation = Mutex<VirtioActivation?>(nil)
    let configuration = Mutex<[UInt8]>([1, 2, 3, 4, 5, 6, 7, 8])

    var deviceID: UInt32 { 42 }
    var queueMaximumSizes: [UInt16] { [8, 16] }
    var deviceFeatures: UInt64 { 1 << 3 }

    func readConfiguration(offset: UInt64, size: Int) -> UInt64 {
        configuration.withLock { bytes in
            (0..<size).reduce(UInt64(0)) { value, index in
                let position = Int(offset) + index
                return value | UInt64(position < bytes.count ? bytes[position] : 0) << (8 * index)
            }
        }
    }

    func writeConfiguration(offset: UInt64, size: Int, value: UInt64) {
        configuration.withLock { bytes in
            for index in 0..<size where Int(offset) + index < bytes.count {
                bytes[Int(offset) + index] = UInt8(truncatingIfNeeded: value >> (8 * index))
            }
        }
    }

    func activate(_ activation: VirtioActivation) throws(VirtioDeviceError) {
        calls.withLock { $0.append("activate") }
        try activation.events.watchQueues(activation.queues)
        self.activation.withLock { $0 = activation }
    }

    func queueNotified(_ index: Int) throws(QueueError) -> QueueWork {
        calls.withLock { $0.append("notify \(index)") }
        return .done
    }

    func reset() {
        calls.withLock { $0.append("reset") }
        activation.withLock { $0 = nil }
    }
}

/// A driver writing the virtio-mmio registers, as the guest would.
struct MMIODriver {
    let transport: VirtioMMIOTransport

    func read(_ offset: UInt64) -> UInt32 { UInt32(transport.read(offset: offset, size: 4)) }
    func write(_ offset: UInt64, _ value: UInt32) { transport.write(offset: offset, size: 4, value: UInt64(value)) }

    var status: UInt32 { read(0x70) }

    /// Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK; returns whether FEATURES_OK stuck.
    func negotiate(features: UInt64) -> Bool {
        write(0x70, 0)
        write(0x70, VirtioStatus.acknowledge)
        write(0x70, VirtioStatus.acknowledge | VirtioStatus.driver)
        write(0x24, 0)
        write(0x20, UInt32(truncatingIfNeeded: features))
        write(0x24, 1)
        write(0x20, UInt32(truncatingIfNeeded: features >> 32))
        write(0x70, VirtioStatus.acknowledge | VirtioStatus.driver | VirtioStatus.featuresOK)
        return status & VirtioStatus.featuresOK != 0
    }

    func setUpQueue(_ index: UInt32, layout: QueueLayout) {
        write(0x30, index)
        write(0x38, UInt32(layout.size))
        write(0x80, UInt32(truncatingIfNeeded: layout.descriptorTable))
        write(0x84, UInt32(truncatingIfNeeded: layout.descriptorTable >> 32))
        write(0x90, UInt32(truncatingIfNeeded: layout.availableRing))
        write(0x94, UInt32(truncatingIfNeeded: layout.availableRing >> 32))
        write(0xa0, UInt32(truncatingIfNeeded: layout.usedRing))
        write(0xa4, UInt32(truncatingIfNeeded: layout.usedRing >> 32))
        write(0x44, 1)
    }

    func driverOK() {
        write(0x70, status | VirtioStatus.driverOK)
    }
}

private func makeTransport() throws -> (RecordingDevice, VirtioMMIOTransport, MMIODriver, GuestMemory, EventFD) {
    let memory = try GuestMemory(totalBytes: 1 << 20)
    let device = RecordingDevice()
    let line = try EventFD()
    let transport = VirtioMMIOTransport(device: device, memory: memory, interrupt: VirtioInterrupt(line: line))
    return (device, transport, MMIODriver(transport: transport), memory, line)
}

@Suite struct VirtioMMIOTransportTests {
    @Test func identificationRegisters() throws {
        let (_, _, driver, _, _) = try makeTransport()
        #expect(driver.read(0x000) == 0x7472_6976)
        #expect(driver.read(0x004) == 2, "modern only")
        #expect(driver.read(0x008) == 42)
        #expect(driver.read(0x00c) == VirtioMMIOTransport.vendorID)
    }

    @Test func featuresAreReadInPages() throws {
        let (_, _, driver, _, _) = try makeTransport()
        driver.write(0x14, 0)
        #expect(driver.read(0x10) == UInt32(1 << 3 | 1 << 28 | 1 << 29))
        driver.write(0x14, 1)
        #expect(driver.read(0x10) == 1, "VERSION_1 is bit 32")
        driver.write(0x14, 2)
        #expect(driver.read(0x10) == 0)
    }

    @Test func featureNegotiationRefusesUnofferedFeaturesAndLegacyDrivers() throws {
        let (_, _, driver, _, _) = try makeTransport()
        #expect(driver.negotiate(features: VirtioFeature.version1 | 1 << 3))
        #expect(!driver.negotiate(features: 1 << 3), "no VERSION_1")
        #expect(!driver.negotiate(features: VirtioFeature.version1 | 1 << 5), "bit 5 was not offered")
    }

    @Test func fullHandshakeActivatesTheDeviceWithItsQueues() throws {
        let (device, transport, driver, memory, _) = try makeTransport()
        #expect(driver.negotiate(features: VirtioFeature.version1 | VirtioFeature.ringEventIndex))
        driver.write(0x30, 1)
        #expect(driver.read(0x34) == 16)
        driver.write(0x30, 7)
        #expect(driver.read(0x34) == 0, "no queue 7")
        let mock = MockDriverQueue(memory: memory, base: 0x10000, size: 8)
        driver.setUpQueue(0, layout: mock.layout)
        driver.driverOK()
        #expect(driver.status & VirtioStatus.driverOK != 0)
        #expect(driver.status & VirtioStatus.deviceNeedsReset == 0)
        let activation = try #require(device.activation.withLock { $0 })
        #expect(activation.queues.count == 2)
        #expect(activation.queues[0]?.layout == mock.layout)
        #expect(activation.queues[0]?.eventIndex == true)
        #expect(activation.queues[1] == nil, "queue 1 was not enabled")
        #expect(activation.features == VirtioFeature.version1 | VirtioFeature.ringEventIndex)
        transport.notify(queue: 0)
        driver.write(0x50, 1)  // a notification through the register
        #expect(device.calls.withLock { $0 } == ["reset", "activate", "notify 0", "notify 1"])
    }

    @Test func badQueueSizeSetsNeedsReset() throws {
        let (device, _, driver, memory, line) = try makeTransport()
        #expect(driver.negotiate(features: VirtioFeature.version1))
        var layout = MockDriverQueue(memory: memory, size: 8).layout
        layout.size = 6
        driver.setUpQueue(0, layout: layout)
        driver.driverOK()
        #expect(driver.status & VirtioStatus.deviceNeedsReset != 0)
        #expect(driver.read(0x60) & VirtioInterrupt.configurationChange != 0)
        #expect(line.drain() != nil, "the driver hears about it")
        #expect(device.activation.withLock { $0 } == nil)
    }

    @Test func queueOutsideMemorySetsNeedsReset() throws {
        let (_, _, driver, _, _) = try makeTransport()
        #expect(driver.negotiate(features: VirtioFeature.version1))
        driver.setUpQueue(
            0, layout: QueueLayout(size: 8, descriptorTable: 0x4000_0000, availableRing: 0x1000, usedRing: 0x2000))
        driver.driverOK()
        #expect(driver.status & VirtioStatus.deviceNeedsReset != 0)
    }

    @Test func changingAnEnabledQueueOrWrongWidthsSetNeedsReset() throws {
        let (_, transport, driver, memory, _) = try makeTransport()
        #expect(driver.negotiate(features: VirtioFeature.version1))
        driver.setUpQueue(0, layout: MockDriverQueue(memory: memory, size: 8).layout)
        driver.write(0x38, 4)  // size of an enabled queue
        #expect(driver.status & VirtioStatus.deviceNeedsReset != 0)
        #expect(driver.negotiate(features: VirtioFeature.version1), "reset clears it")
        #expect(driver.status & VirtioStatus.deviceNeedsReset == 0)
        transport.write(offset: 0x70, size: 2, value: 1)
        #expect(driver.status & VirtioStatus.deviceNeedsReset != 0, "16-bit register write")
        _ = driver.negotiate(features: VirtioFeature.version1)
        #expect(transport.read(offset: 0x08, size: 1) == 0)
        #expect(driver.status & VirtioStatus.deviceNeedsReset != 0, "8-bit register read")
        _ = driver.negotiate(features: VirtioFeature.version1)
        transport.write(offset: 0x0c, size: 4, value: 5)
        #expect(driver.status & VirtioStatus.deviceNeedsReset != 0, "write to a read-only register")
    }

    @Test func configurationSpaceTakesNarrowAccesses() throws {
        let (_, transport, _, _, _) = try makeTransport()
        #expect(transport.read(offset: 0x100, size: 1) == 1)
        #expect(transport.read(offset: 0x102, size: 2) == 0x0403)
        #expect(transport.read(offset: 0x104, size: 4) == 0x0807_0605)
        transport.write(offset: 0x101, size: 1, value: 0xee)
        #expect(transport.read(offset: 0x100, size: 2) == 0xee01)
        #expect(transport.status & VirtioStatus.deviceNeedsReset == 0)
        _ = transport.read(offset: 0x100, size: 8)
        #expect(transport.status & VirtioStatus.deviceNeedsReset != 0, "8-byte config access")
    }

    @Test func resetDuringUseStopsTheDeviceAndClearsEverything() throws {
        let (device, transport, driver, memory, _) = try makeTransport()
        #expect(driver.negotiate(features: VirtioFeature.version1))
        driver.setUpQueue(0, layout: MockDriverQueue(memory: memory, size: 8).layout)
        driver.driverOK()
        transport.interrupt.raise()
        #expect(driver.read(0x60) == 1)
        driver.write(0x70, 0)
        #expect(driver.status == 0)
        #expect(driver.read(0x60) == 0)
        driver.write(0x30, 0)
        #expect(driver.read(0x44) == 0, "queue no longer ready")
        #expect(driver.read(0x38) == 8, "size back to the maximum")
        transport.notify(queue: 0)
        #expect(device.calls.withLock { $0.filter { $0.hasPrefix("notify") } }.isEmpty, "no notifications after reset")
        #expect(device.calls.withLock { $0.last } == "reset")
        #expect(driver.negotiate(features: VirtioFeature.version1), "usable again")
    }

    @Test func interruptStatusIsAcknowledgedBitByBit() throws {
        let (_, transport, driver, _, line) = try makeTransport()
        transport.interrupt.raise(VirtioInterrupt.usedBuffer)
        transport.configurationChanged()
        #expect(driver.read(0x60) == 3)
        #expect(line.drain() == 2)
        driver.write(0x64, 1)
        #expect(driver.read(0x60) == 2)
        #expect(driver.read(0xfc) == 1, "configuration generation moved")
    }

    @Test func clearingStatusBitsWithoutResetIsInvalid() throws {
        let (_, _, driver, _, _) = try makeTransport()
        #expect(driver.negotiate(features: VirtioFeature.version1))
        driver.write(0x70, VirtioStatus.acknowledge)
        #expect(driver.status & VirtioStatus.deviceNeedsReset != 0)
    }
}
