import GuestMemory
import Synchronization

/// The virtio-mmio transport, version 2 (modern only, virtio 1.x 4.2.2): the register file,
/// feature negotiation in 32-bit pages, the status state machine, queue set-up, interrupt status
/// and acknowledge, ConfigGeneration and the configuration space. Device independent.
///
/// Registers take 32-bit accesses; the configuration space takes 1, 2 and 4-byte ones. A bad
/// access or an unusable queue sets DEVICE_NEEDS_RESET (and raises a configuration interrupt);
/// nothing the guest writes can crash the VMM.
/// SPI-public for cross-module inlining on the exit path (see `VCPUFD` in KVM).
@_spi(ExitPath) public final class VirtioMMIOTransport: Sendable {
    /// Size of the register window each device gets.
    package static let windowSize: UInt64 = 0x1000
    package static let magic: UInt32 = 0x7472_6976  // "virt"
    package static let vendorID: UInt32 = 0x4d4d_5653  // "SVMM"

    package enum Register {
        package static let magic: UInt64 = 0x000
        package static let version: UInt64 = 0x004
        package static let deviceID: UInt64 = 0x008
        package static let vendorID: UInt64 = 0x00c
        package static let deviceFeatures: UInt64 = 0x010
        package static let deviceFeaturesSelect: UInt64 = 0x014
        package static let driverFeatures: UInt64 = 0x020
        package static let driverFeaturesSelect: UInt64 = 0x024
        package static let queueSelect: UInt64 = 0x030
        package static let queueSizeMaximum: UInt64 = 0x034
        package static let queueSize: UInt64 = 0x038
        package static let queueReady: UInt64 = 0x044
        package static let queueNotify: UInt64 = 0x050
        package static let interruptStatus: UInt64 = 0x060
        package static let interruptAcknowledge: UInt64 = 0x064
        package static let status: UInt64 = 0x070
        package static let queueDescriptorLow: UInt64 = 0x080
        package static let queueDescriptorHigh: UInt64 = 0x084
        package static let queueDriverLow: UInt64 = 0x090
        package static let queueDriverHigh: UInt64 = 0x094
        package static let queueDeviceLow: UInt64 = 0x0a0
        package static let queueDeviceHigh: UInt64 = 0x0a4
        package static let configurationGeneration: UInt64 = 0x0fc
        package static let configuration: UInt64 = 0x100
    }

    struct QueueRegisters {
        var size: UInt16
        var ready = false
        var descriptorTable: UInt64 = 0
        var availableRing: UInt64 = 0
        var usedRing: UInt64 = 0
    }

    struct State {
        var status: UInt32 = 0
        var deviceFeaturesSelect: UInt32 = 0
        var driverFeaturesSelect: UInt32 = 0
        var driverFeatures: UInt64 = 0
        var queueSelect: UInt32 = 0
        var queues: [QueueRegisters]
        /// QueueNumMax of each queue (what the device advertises).
        var queueMaximums: [UInt16]
        var configurationGeneration: UInt32 = 0
        var activated = false
    }

    /// The device behind this transport.
    package let device: any VirtioDevice
    /// The memory the device's queues live in.
    package let memory: GuestMemory
    /// The device's interrupt status and line.
    package let interrupt: VirtioInterrupt
    private let state: Mutex<State>
    private let registerNotifications = Atomic<UInt64>(0)
    /// Serializes device calls (activation, notifications, reset) and Status changes between
    /// vCPU and I/O threads. Never taken inside `state`'s lock.
    private let deviceLock = Mutex(())

    /// What the device registers its event sources through; every watch ends when the device
    /// resets (or fails to activate).
    private let events: DeviceEvents
    /// Called when the device sets DEVICE_NEEDS_RESET (the driver broke the protocol), for the
    /// owner's log: rare, never on a well-behaved exit path.
    private let needsResetHandler: (@Sendable () -> Void)?

    package init(
        device: any VirtioDevice, memory: GuestMemory, interrupt: VirtioInterrupt,
        events: DeviceEvents = .unwatched(), needsResetHandler: (@Sendable () -> Void)? = nil
    ) {
        self.device = device
        self.memory = memory
        self.interrupt = interrupt
        self.events = events
        self.needsResetHandler = needsResetHandler
        state = Mutex(
            State(
                queues: device.queueMaximumSizes.map { QueueRegisters(size: $0) },
                queueMaximums: device.queueMaximumSizes))
    }

    /// All features the device offers, transport bits included.
    package var offeredFeatures: UInt64 { device.deviceFeatures | VirtioFeature.transportFeatures }

    /// Queue notifications that arrived as a QueueNotify register write (an exit to user space)
    /// instead of through an ioeventfd.
    package var notificationsThroughRegister: UInt64 { registerNotifications.load(ordering: .relaxed) }

    /// The Status register.
    package var status: UInt32 { state.withLock { $0.status } }

    // MARK: - Bus access (vCPU threads)

    package func read(offset: UInt64, size: Int) -> UInt64 {
        if offset >= Register.configuration {
            guard [1, 2, 4].contains(size) else { return needsReset(returning: 0) }
            return device.readConfiguration(offset: offset - Register.configuration, size: size)
        }
        guard size == 4, offset % 4 == 0 else { return needsReset(returning: 0) }
        let value: UInt32 = state.withLock { state in
            switch offset {
            case Register.magic: return Self.magic
            case Register.version: return 2
            case Register.deviceID: return device.deviceID
            case Register.vendorID: return Self.vendorID
            case Register.deviceFeatures:
                switch state.deviceFeaturesSelect {
                case 0: return UInt32(truncatingIfNeeded: offeredFeatures)
                case 1: return UInt32(truncatingIfNeeded: offeredFeatures >> 32)
                default: return 0
                }
            case Register.queueSizeMaximum:
                return UInt32(Self.selectedQueue(state).map { device.queueMaximumSizes[$0] } ?? 0)
            case Register.queueSize:
                return UInt32(Self.selectedQueue(state).map { state.queues[$0].size } ?? 0)
            case Register.queueReady:
                return Self.selectedQueue(state).map { state.queues[$0].ready ? 1 : 0 } ?? 0
            case Register.interruptStatus: return interrupt.pending
            case Register.status: return state.status
            case Register.configurationGeneration: return state.configurationGeneration
            default: return 0
            }
        }
        return UInt64(value)
    }

    package func write(offset: UInt64, size: Int, value: UInt64) {
        if offset >= Register.configuration {
            guard [1, 2, 4].contains(size) else { return markNeedsReset() }
            device.writeConfiguration(offset: offset - Register.configuration, size: size, value: value)
            return
        }
        guard size == 4, offset % 4 == 0 else { return markNeedsReset() }
        let word = UInt32(truncatingIfNeeded: value)
        switch offset {
        case Register.status:
            writeStatus(word)
        case Register.queueNotify:
            // Normally absorbed by the queue's ioeventfd; handled here when it reaches user space.
            registerNotifications.add(1, ordering: .relaxed)
            notify(queue: Int(word))
        case Register.interruptAcknowledge:
            interrupt.acknowledge(word)
        default:
            let bad: Bool = state.withLock { state in Self.writeRegister(&state, offset: offset, word: word) }
            if bad { markNeedsReset() }
        }
    }

    /// Register writes that only change transport state. Returns true for an invalid write.
    private static func writeRegister(_ state: inout State, offset: UInt64, word: UInt32) -> Bool {
        switch offset {
        case Register.deviceFeaturesSelect: state.deviceFeaturesSelect = word
        case Register.driverFeaturesSelect: state.driverFeaturesSelect = word
        case Register.driverFeatures:
            guard state.status & VirtioStatus.featuresOK == 0 else { return true }
            switch state.driverFeaturesSelect {
            case 0: state.driverFeatures = (state.driverFeatures & ~0xffff_ffff) | UInt64(word)
            case 1: state.driverFeatures = (state.driverFeatures & 0xffff_ffff) | UInt64(word) << 32
            default: return word != 0
            }
        case Register.queueSelect: state.queueSelect = word
        case Register.queueSize, Register.queueReady, Register.queueDescriptorLow, Register.queueDescriptorHigh,
            Register.queueDriverLow, Register.queueDriverHigh, Register.queueDeviceLow, Register.queueDeviceHigh:
            guard let index = selectedQueue(state) else { return true }
            if offset == Register.queueReady {
                state.queues[index].ready = word & 1 != 0
                return false
            }
            // The driver must not change a queue while it is enabled, nor after DRIVER_OK.
            guard !state.queues[index].ready, state.status & VirtioStatus.driverOK == 0 else { return true }
            let low = UInt64(word)
            let high = UInt64(word) << 32
            switch offset {
            case Register.queueSize:
                // A split queue's size is a power of two no larger than QueueNumMax.
                guard word > 0, word <= UInt32(state.queueMaximums[index]), word & (word - 1) == 0 else {
                    return true
                }
                state.queues[index].size = UInt16(word)
            case Register.queueDescriptorLow: state.queues[index].descriptorTable.replaceLow(low)
            case Register.queueDescriptorHigh: state.queues[index].descriptorTable.replaceHigh(high)
            case Register.queueDriverLow: state.queues[index].availableRing.replaceLow(low)
            case Register.queueDriverHigh: state.queues[index].availableRing.replaceHigh(high)
            case Register.queueDeviceLow: state.queues[index].usedRing.replaceLow(low)
            default: state.queues[index].usedRing.replaceHigh(high)
            }
        default:
            return true  // a read-only or unknown register
        }
        return false
    }

    private static func selectedQueue(_ state: State) -> Int? {
        Int(state.queueSelect) < state.queues.count ? Int(state.queueSelect) : nil
    }

    // MARK: - Status

    /// A Status write. It runs whole under the device lock, so that two vCPUs writing Status at
    /// once (DRIVER_OK against a reset) leave the device either active or reset, never between.
    private func writeStatus(_ value: UInt32) {
        deviceLock.withLock { _ in
            if value == 0 {
                resetLocked()
            } else {
                writeStatusLocked(value)
            }
        }
    }

    private func writeStatusLocked(_ value: UInt32) {
        enum Step { case none, activate(UInt64, [QueueRegisters]), invalid }
        let step: Step = state.withLock { state in
            // DEVICE_NEEDS_RESET is the device's bit: the driver neither sets nor clears it. The
            // driver's bits may only be added (clearing them is a reset, handled above).
            let deviceBits = state.status & VirtioStatus.deviceNeedsReset
            let driverStatus = state.status & ~VirtioStatus.deviceNeedsReset
            let written = value & ~VirtioStatus.deviceNeedsReset
            guard written & driverStatus == driverStatus else { return .invalid }
            var newStatus = written | deviceBits
            if written & VirtioStatus.featuresOK != 0, state.status & VirtioStatus.featuresOK == 0 {
                let acceptable =
                    state.driverFeatures & ~offeredFeatures == 0 && state.driverFeatures & VirtioFeature.version1 != 0
                if !acceptable { newStatus &= ~VirtioStatus.featuresOK }  // the driver reads it back and gives up
            }
            let activating = newStatus & VirtioStatus.driverOK != 0 && state.status & VirtioStatus.driverOK == 0
            if activating, newStatus & VirtioStatus.featuresOK == 0 { return .invalid }
            // A device that needs a reset does not start until the driver resets it.
            if activating, deviceBits != 0 { return .invalid }
            state.status = newStatus
            return activating ? .activate(state.driverFeatures, state.queues) : .none
        }
        switch step {
        case .none: break
        case .invalid: needsResetLocked()
        case .activate(let features, let queues): activateLocked(features: features, queues: queues)
        }
    }

    private func activateLocked(features: UInt64, queues: [QueueRegisters]) {
        var splitQueues: [SplitQueue?] = []
        do {
            for registers in queues {
                guard registers.ready else {
                    splitQueues.append(nil)
                    continue
                }
                splitQueues.append(
                    try SplitQueue(
                        layout: QueueLayout(
                            size: registers.size, descriptorTable: registers.descriptorTable,
                            availableRing: registers.availableRing, usedRing: registers.usedRing),
                        memory: memory, eventIndex: features & VirtioFeature.ringEventIndex != 0,
                        indirectDescriptors: features & VirtioFeature.ringIndirectDescriptors != 0))
            }
            try device.activate(
                VirtioActivation(
                    queues: splitQueues, memory: memory, features: features, interrupt: interrupt, events: events))
            state.withLock { $0.activated = true }
        } catch {
            events.cancelAll()  // what the device registered before it gave up
            needsResetLocked()
        }
    }

    /// Resets the device and every transport register (the driver wrote 0 to Status).
    package func reset() {
        deviceLock.withLock { _ in resetLocked() }
    }

    private func resetLocked() {
        device.reset()
        events.cancelAll()
        state.withLock { state in
            let generation = state.configurationGeneration
            state = State(
                queues: device.queueMaximumSizes.map { QueueRegisters(size: $0) },
                queueMaximums: device.queueMaximumSizes)
            state.configurationGeneration = generation
        }
        interrupt.clear()
    }

    // MARK: - Queue notifications (I/O thread)

    /// The driver notified queue `index` (through its ioeventfd or the QueueNotify register).
    /// `.pending` means the device stopped at its work budget: notify again after other events.
    @discardableResult
    package func notify(queue index: Int) -> QueueWork {
        deviceLock.withLock { _ in
            let active = state.withLock { $0.activated && $0.status & VirtioStatus.deviceNeedsReset == 0 }
            guard active, index >= 0, index < device.queueMaximumSizes.count else { return .done }
            do throws(QueueError) {
                return try device.queueNotified(index)
            } catch {
                if error.breaksQueue { needsResetLocked() }
                return .done
            }
        }
    }

    /// One of the device's own sources (registered as `.source(source)`) is ready: the device
    /// handles it, serialized with notifications and resets, only while active.
    package func sourceReady(_ source: Int) {
        deviceLock.withLock { _ in
            let active = state.withLock { $0.activated && $0.status & VirtioStatus.deviceNeedsReset == 0 }
            guard active else { return }
            do throws(QueueError) {
                try device.sourceReady(source)
            } catch {
                if error.breaksQueue { needsResetLocked() }
            }
        }
    }

    /// Runs `body` with the device, serialized with notifications, activation and reset (never
    /// in the middle of a queue's processing), whatever the device's state.
    package func withDeviceLocked<Result, Failure: Error>(
        _ body: (any VirtioDevice) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try deviceLock.withLock { _ throws(Failure) in try body(device) }
    }

    /// Tells the driver the configuration space changed.
    package func configurationChanged() {
        state.withLock { $0.configurationGeneration &+= 1 }
        interrupt.raise(VirtioInterrupt.configurationChange)
    }

    private func markNeedsReset() {
        deviceLock.withLock { _ in needsResetLocked() }
    }

    /// Sets DEVICE_NEEDS_RESET and tells the driver. An active device stops at once: the owner
    /// stops watching its queues and the device drops them (a network device stops watching its
    /// backend), so nothing the guest does afterwards makes the device work until it resets.
    private func needsResetLocked() {
        let (changed, wasActive) = state.withLock { state in
            let changed = state.status & VirtioStatus.deviceNeedsReset == 0
            state.status |= VirtioStatus.deviceNeedsReset
            let wasActive = state.activated
            state.activated = false
            return (changed, wasActive)
        }
        if wasActive {
            device.reset()
            events.cancelAll()
        }
        if changed {
            interrupt.raise(VirtioInterrupt.configurationChange)
            needsResetHandler?()
        }
    }

    private func needsReset(returning value: UInt64) -> UInt64 {
        markNeedsReset()
        return value
    }
}

extension UInt64 {
    fileprivate mutating func replaceLow(_ low: UInt64) { self = (self & ~0xffff_ffff) | low }
    fileprivate mutating func replaceHigh(_ high: UInt64) { self = (self & 0xffff_ffff) | high }
}
