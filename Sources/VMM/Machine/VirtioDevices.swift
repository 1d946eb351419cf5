import Devices
import HostNetwork
import EventLoop
import GuestMemory
import KVM
import Synchronization
import Virtio

/// One virtio-mmio device of a machine: its transport, window, interrupt line and one
/// notification eventfd per queue (a KVM ioeventfd on QueueNotify with the queue index as
/// datamatch), watched by the I/O thread only while the driver has the device activated.
final class VirtioSlot: Sendable {
    let transport: VirtioMMIOTransport
    let base: UInt64
    let gsi: UInt32
    let queueEvents: [EventFD]
    let interruptLine: EventFD
    private let watcher: QueueWatcher
    private let eventNotifications = Atomic<UInt64>(0)
    /// Signals the I/O thread gave itself to continue a queue (not counted as notifications).
    private let selfSignals = Atomic<UInt64>(0)

    /// Creates the transport for `device` at `base` with interrupt `gsi`, wires its irqfd and
    /// ioeventfds, and arranges for the I/O thread to watch the queues once activated.
    init(
        device: any VirtioDevice, index: Int, base: UInt64, gsi: UInt32, vm: VirtualMachineFD, memory: GuestMemory,
        loop: EventLoop<IOEvent>
    ) throws {
        self.base = base
        self.gsi = gsi
        let line = try EventFD()
        try vm.registerIRQEvent(eventFD: line.rawValue, gsi: gsi)
        interruptLine = line
        var events: [EventFD] = []
        for queue in device.queueMaximumSizes.indices {
            let event = try EventFD()
            try vm.registerIOEvent(
                eventFD: event.rawValue, space: .mmio, address: base + VirtioMMIOTransport.Register.queueNotify,
                length: 4, dataMatch: UInt64(queue))
            events.append(event)
        }
        queueEvents = events
        let watcher = QueueWatcher(loop: loop, device: index, events: events)
        self.watcher = watcher
        transport = VirtioMMIOTransport(
            device: device, memory: memory, interrupt: VirtioInterrupt(line: line),
            activationHandler: { active in watcher.watch(active) })
    }

    /// Notification counts: through the queues' ioeventfds, and through the register.
    var notificationCounts: VirtioNotificationCounts {
        VirtioNotificationCounts(
            throughEventFD: eventNotifications.load(ordering: .relaxed),
            throughRegister: transport.notificationsThroughRegister)
    }

    /// The I/O thread saw queue `queue`'s eventfd: consume it and let the device work. When the
    /// device stops at its work budget, the eventfd is signalled again so the queue is taken up
    /// after the other events waiting (each wake-up does bounded work; stop requests get through).
    func queueNotified(_ queue: Int) {
        guard queue < queueEvents.count else { return }
        guard let count = queueEvents[queue].drain() else { return }
        let own = selfSignals.exchange(0, ordering: .relaxed)
        eventNotifications.add(count - min(own, count), ordering: .relaxed)
        if transport.notify(queue: queue) == .pending {
            selfSignals.add(1, ordering: .relaxed)
            queueEvents[queue].signal()
        }
    }
}

/// Registers a device's queue eventfds with the I/O loop while the device is active.
final class QueueWatcher: Sendable {
    private let loop: EventLoop<IOEvent>
    private let device: Int
    private let events: [EventFD]
    private let registrations = Mutex<[EventLoop<IOEvent>.Registration]>([])

    init(loop: EventLoop<IOEvent>, device: Int, events: [EventFD]) {
        self.loop = loop
        self.device = device
        self.events = events
    }

    /// Starts (true) or stops (false) watching every queue's notification eventfd.
    func watch(_ active: Bool) {
        registrations.withLock { current in
            for registration in current { loop.unregister(registration) }
            current = []
            guard active else { return }
            for (queue, event) in events.enumerated() {
                if let registration = try? loop.register(
                    descriptor: event.rawValue, token: .queueNotify(device: device, queue: queue))
                {
                    current.append(registration)
                }
            }
        }
    }
}

/// Where virtio-mmio devices go: 4 KiB windows from 0xd0001000 (after the boot timer), GSIs from 5.
enum VirtioLayout {
    static let firstBase: UInt64 = 0xd000_1000
    static let firstGSI: UInt32 = 5
    static let maximumDevices = 18  // GSIs 5–22; 23 is the power button

    static func base(of index: Int) -> UInt64 { firstBase + UInt64(index) * VirtioMMIOTransport.windowSize }
    static func gsi(of index: Int) -> UInt32 { firstGSI + UInt32(index) }

    /// The `virtio_mmio.device=SIZE@ADDR:IRQ` token Linux (and the test firmware) read for device `index`.
    static func commandLineToken(of index: Int) -> String {
        "virtio_mmio.device=4K@0x\(String(base(of: index), radix: 16)):\(gsi(of: index))"
    }

    /// The command line with one token per virtio device appended.
    static func commandLine(_ base: String, deviceCount: Int) -> String {
        ([base] + (0..<deviceCount).map(commandLineToken(of:))).filter { !$0.isEmpty }.joined(separator: " ")
    }
}

/// The virtio devices a configuration asks for, in window order: disks first (vda, vdb, …),
/// then the entropy device.
enum VirtioDeviceKind: Sendable {
    case block(index: Int, DiskConfiguration)
    case network(index: Int, NetworkInterfaceConfiguration)
    case entropy

    static func devices(for configuration: VirtualMachineConfiguration) -> [VirtioDeviceKind] {
        configuration.disks.enumerated().map { .block(index: $0.offset, $0.element) }
            + configuration.networkInterfaces.enumerated().map { .network(index: $0.offset, $0.element) }
            + (configuration.entropyDevice ? [.entropy] : [])
    }

    /// Creates the device; opening a disk or a tap can fail with a configuration error naming it.
    func make(machineName: String) throws(ConfigurationError) -> any VirtioDevice {
        switch self {
        case .network(let index, let interface):
            let field = "network_interfaces[\(index)]"
            do {
                let tap = try TapDevice(name: interface.tap, mtu: interface.mtu)
                return VirtioNet(
                    backend: TapBackend(tap: tap), mac: interface.macAddress(machineName: machineName, index: index),
                    mtu: interface.mtu.flatMap { UInt16(exactly: $0) })
            } catch {
                throw .networkUnavailable(field: field, reason: error.description)
            }
        case .entropy:
            return VirtioEntropy()
        case .block(let index, let disk):
            let field = "disks[\(index)]"
            do {
                let backend = try FileBlockBackend(
                    path: disk.path, readOnly: disk.readOnly, directIO: disk.cache == .none)
                return VirtioBlock(backend: backend, serial: disk.serial)
            } catch {
                switch error {
                case .locked: throw .fileLocked(field: field, path: disk.path, reason: error.description)
                case .cannotOpen(_, let code):
                    throw .fileUnreadable(field: field, path: disk.path, reason: errnoText(code))
                case .notADisk, .tooSmall:
                    throw .fileUnreadable(field: field, path: disk.path, reason: error.description)
                }
            }
        }
    }
}

/// How one virtio device's queue notifications reached the VMM.
public struct VirtioNotificationCounts: Sendable, Equatable {
    /// Absorbed by KVM through an ioeventfd and handled on the I/O thread (the normal path).
    public var throughEventFD: UInt64
    /// Taken as an MMIO exit to the QueueNotify register.
    public var throughRegister: UInt64
}
