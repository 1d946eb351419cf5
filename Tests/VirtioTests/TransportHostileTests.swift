import EventLoop
import GuestMemory
import Synchronization
import Testing
@_spi(ExitPath) import Virtio
import VirtioTestSupport

/// What a hostile driver can do to the virtio-mmio transport.
@Suite struct TransportHostileTests {
    private func make(registrar: RecordingEventRegistrar = RecordingEventRegistrar()) throws -> (
        RecordingDevice, VirtioMMIOTransport, MMIODriver, GuestMemory
    ) {
        let memory = try GuestMemory(totalBytes: 1 << 20)
        let device = RecordingDevice()
        let transport = VirtioMMIOTransport(
            device: device, memory: memory, interrupt: VirtioInterrupt(line: nil),
            events: registrar.events(queueCount: device.queueMaximumSizes.count))
        return (device, transport, MMIODriver(transport: transport), memory)
    }

    /// QueueNum above QueueNumMax (8 for queue 0 here), zero or not a power of two is refused
    /// with DEVICE_NEEDS_RESET and the register keeps its value: chain and batch limits never
    /// grow with what the guest writes.
    @Test(arguments: [UInt32(32768), 16, 0, 6, 0x1_0008])
    func queueSizesBeyondTheMaximumAreRefused(size: UInt32) throws {
        let (device, _, driver, _) = try make()
        #expect(driver.negotiate(features: VirtioFeature.version1))
        driver.write(0x30, 0)
        driver.write(0x38, size)
        #expect(driver.read(0x38) == 8, "QueueNum unchanged")
        #expect(driver.status & VirtioStatus.deviceNeedsReset != 0)
        driver.write(0x44, 1)
        driver.driverOK()
        #expect(device.activation.withLock { $0 } == nil, "a device that needs a reset does not start")
    }

    /// DEVICE_NEEDS_RESET on an active device stops it: every watch of its activation ends and
    /// the device drops its queues (a network device stops watching its tap), until the driver
    /// resets.
    @Test func needsResetStopsAnActiveDevice() throws {
        let registrar = RecordingEventRegistrar()
        let (device, transport, driver, memory) = try make(registrar: registrar)
        #expect(driver.negotiate(features: VirtioFeature.version1))
        driver.setUpQueue(0, layout: MockDriverQueue(memory: memory, size: 8).layout)
        driver.driverOK()
        #expect(device.activation.withLock { $0 } != nil)
        #expect(registrar.watching == [.queue(0): true], "the device watches the queue it was given")
        _ = transport.read(offset: 0x70, size: 2)  // a 2-byte register read: a bad access
        #expect(driver.status & VirtioStatus.deviceNeedsReset != 0)
        #expect(registrar.watching.isEmpty, "nothing is watched any more")
        #expect(registrar.actions == [.watch(.queue(0), readable: true), .cancel(.queue(0))])
        #expect(device.activation.withLock { $0 } == nil, "the device dropped its queues")
        transport.notify(queue: 0)
        #expect(!device.calls.withLock { $0 }.contains("notify 0"), "no work while it needs a reset")
        driver.write(0x70, 0)
        #expect(driver.status == 0, "a reset clears it")
    }

    /// The owner hears of DEVICE_NEEDS_RESET once per time it is set (its log line), not per
    /// bad access.
    @Test func theOwnerIsToldOncePerNeedsReset() throws {
        let memory = try GuestMemory(totalBytes: 1 << 20)
        let told = Mutex(0)
        let transport = VirtioMMIOTransport(
            device: RecordingDevice(), memory: memory, interrupt: VirtioInterrupt(line: nil),
            needsResetHandler: { told.withLock { $0 += 1 } })
        let driver = MMIODriver(transport: transport)
        for _ in 0..<100 { _ = transport.read(offset: 0x70, size: 2) }
        #expect(told.withLock { $0 } == 1)
        driver.write(0x70, 0)  // reset
        _ = transport.read(offset: 0x70, size: 1)
        #expect(told.withLock { $0 } == 2, "set again after a reset")
    }

    /// DEVICE_NEEDS_RESET is the device's bit: a driver that writes it (with DRIVER_OK) does not
    /// start a device that would then run while Status says it needs a reset.
    @Test func theDriverCannotWriteTheNeedsResetBit() throws {
        let (device, _, driver, memory) = try make()
        #expect(driver.negotiate(features: VirtioFeature.version1))
        driver.setUpQueue(0, layout: MockDriverQueue(memory: memory, size: 8).layout)
        driver.write(0x70, driver.status | VirtioStatus.driverOK | VirtioStatus.deviceNeedsReset)
        #expect(device.activation.withLock { $0 } != nil)
        #expect(driver.status & VirtioStatus.deviceNeedsReset == 0, "the driver's write of the bit is ignored")
    }

    /// Two vCPUs: one writes DRIVER_OK while the other resets. Afterwards the device is active
    /// exactly when Status says DRIVER_OK, whatever the interleaving.
    @Test func driverOKRacingAResetLeavesAConsistentDevice() async throws {
        for _ in 0..<300 {
            let (device, transport, driver, memory) = try make()
            #expect(driver.negotiate(features: VirtioFeature.version1))
            driver.setUpQueue(0, layout: MockDriverQueue(memory: memory, size: 8).layout)
            let ready = driver.status | VirtioStatus.driverOK
            await withTaskGroup(of: Void.self) { group in
                group.addTask { transport.write(offset: 0x70, size: 4, value: UInt64(ready)) }
                group.addTask { transport.write(offset: 0x70, size: 4, value: 0) }
            }
            let active = device.activation.withLock { $0 } != nil
            let statusSaysActive = driver.status & VirtioStatus.driverOK != 0
            #expect(active == statusSaysActive, "status \(driver.status), device active: \(active)")
            if active != statusSaysActive { break }
        }
    }
}

/// A device that registers its queues and then refuses to start.
private final class RefusingDevice: VirtioDevice {
    var deviceID: UInt32 { 4 }
    var queueMaximumSizes: [UInt16] { [8] }
    var deviceFeatures: UInt64 { 0 }
    func readConfiguration(offset: UInt64, size: Int) -> UInt64 { 0 }
    func writeConfiguration(offset: UInt64, size: Int, value: UInt64) {}
    func activate(_ activation: VirtioActivation) throws(VirtioDeviceError) {
        try activation.events.watchQueues(activation.queues)
        throw VirtioDeviceError("refused")
    }
    func queueNotified(_ index: Int) throws(QueueError) -> QueueWork { .done }
    func reset() {}
}

@Suite struct TransportActivationWatchTests {
    /// What a device registered before its activation failed is no longer watched.
    @Test func aFailedActivationLeavesNothingWatched() throws {
        let memory = try GuestMemory(totalBytes: 1 << 20)
        let registrar = RecordingEventRegistrar()
        let transport = VirtioMMIOTransport(
            device: RefusingDevice(), memory: memory, interrupt: VirtioInterrupt(line: nil),
            events: registrar.events(queueCount: 1))
        let driver = MMIODriver(transport: transport)
        #expect(driver.negotiate(features: VirtioFeature.version1))
        driver.setUpQueue(0, layout: MockDriverQueue(memory: memory, size: 8).layout)
        driver.driverOK()
        #expect(driver.status & VirtioStatus.deviceNeedsReset != 0)
        #expect(registrar.actions == [.watch(.queue(0), readable: true), .cancel(.queue(0))])
    }
}
