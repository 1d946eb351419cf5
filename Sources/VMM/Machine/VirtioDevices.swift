@_spi(ExitPath) import Devices
import HostNetwork
import EventLoop
import GuestMemory
@_spi(ExitPath) import KVM
import Sandbox
import Synchronization
@_spi(ExitPath) import Virtio

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

    /// Creates the transport for `device` at its planned window and GSI, wires its irqfd and
    /// ioeventfds, arranges for the I/O thread to watch the queues once activated, and watches
    /// the device's backend (a tap) as the device asks.
    init(
        device: any VirtioDevice, index: Int, placement: MachineLayout.VirtioPlacement, vm: VirtualMachineFD,
        memory: GuestMemory, loop: EventLoop<IOEvent>, logRelay: LogRelay
    ) throws {
        let base = placement.base
        self.base = base
        self.gsi = placement.gsi
        let gsi = placement.gsi
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
        let type = device.deviceID
        transport = VirtioMMIOTransport(
            device: device, memory: memory, interrupt: VirtioInterrupt(line: line),
            activationHandler: { active in watcher.watch(active) },
            needsResetHandler: {
                logRelay.post(
                    .warning, key: "needs-reset-\(index)",
                    "virtio device \(index) (type \(type)) set DEVICE_NEEDS_RESET: the guest's driver broke"
                        + " the protocol (a bad queue set-up or register access); the device stops until it resets")
            })
        if let descriptor = device.backendDescriptor {
            try Self.watchBackend(of: device, descriptor: descriptor, index: index, loop: loop, logRelay: logRelay)
        }
    }

    /// Registers a device's backend with the I/O loop, quiet until the device asks for input
    /// (e.g. the guest posted receive buffers) and quiet again when it cannot take more; removed
    /// from the loop when the backend fails for good (its errors would wake the loop forever).
    private static func watchBackend(
        of device: any VirtioDevice, descriptor: Int32, index: Int, loop: EventLoop<IOEvent>, logRelay: LogRelay
    ) throws {
        let registration = try loop.register(
            descriptor: descriptor, interest: [], token: .backendReadable(device: index))
        let name = device.backendName
        device.setBackendInterestHandler { interest in
            switch interest {
            case .receive: try? loop.modify(registration, interest: .readable)
            case .pause: try? loop.modify(registration, interest: [])
            case .detach:
                loop.unregister(registration)
                logRelay.post(
                    .error, key: "backend-failed-\(index)",
                    "\(name) failed (deleted?): virtio device \(index) receives nothing more and its frames are dropped"
                )
            }
        }
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
    func make(machineName: String, seccomp: SeccompMode, logRelay: LogRelay) throws(MachineError) -> any VirtioDevice {
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
                if let bytes = disk.createBytes {
                    _ = try FileBlockBackend.createSparseImage(path: disk.path, bytes: bytes)
                }
                let backend = try FileBlockBackend(
                    path: disk.path, readOnly: disk.readOnly, directIO: disk.cache == .none,
                    declaredBytes: disk.declaredBytes)
                let engine = try Self.blockEngine(
                    disk.aio, field: field, index: index, seccomp: seccomp, logRelay: logRelay)
                return VirtioBlock(backend: backend, serial: disk.serial, queueCount: disk.queues, engine: engine)
            } catch let error as BlockBackendError {
                throw MachineError.from(error, field: field)
            } catch let error as MachineError {
                throw error
            } catch {
                throw MachineError.setupFailed(field, "\(error)")
            }
        }
    }
}

extension VirtioDeviceKind {
    /// The engine for a disk's `aio` setting; `auto` takes io_uring where the host allows it and
    /// says in the log when it falls back to the worker threads. Worker threads run under the
    /// I/O thread's seccomp profile.
    static func blockEngine(
        _ aio: DiskConfiguration.AsyncIO, field: String, index: Int, seccomp: SeccompMode, logRelay: LogRelay
    ) throws(MachineError) -> (any BlockEngine)? {
        let spawn: BlockWorkerSpawner = { name, body in
            try sandboxedThread(name: name, profile: .io, seccomp: seccomp, body)
        }
        let name = "vmm-blk\(index)"
        do {
            let engine: (any BlockEngine)?
            var reason = ""
            switch aio {
            case .sync: engine = nil
            case .threads: engine = try BlockEngines.make(.threads, name: name, spawn: spawn)
            case .ioUring: engine = try BlockEngines.make(.ioUring, name: name, spawn: spawn)
            case .auto:
                let (automatic, refusal) = try BlockEngines.automatic(name: name, spawn: spawn)
                engine = automatic
                if let refusal { reason = " (aio auto: \(refusal.description))" }
            }
            logRelay.post(
                .info, key: "aio-\(index)", "\(field): aio \((engine?.kind ?? .sync).rawValue)\(reason)")
            return engine
        } catch {
            if case .ioUringUnavailable = error {
                throw MachineError.hostUnsupported(
                    "\(field).aio: \(error.description); use aio auto or threads (worker threads do the same"
                        + " without io_uring)")
            }
            throw MachineError.setupFailed(field, error.description)
        }
    }
}

extension MachineError {
    /// One disk problem, one code (and exit status).
    static func from(_ error: BlockBackendError, field: String) -> MachineError {
        switch error {
        case .locked(let path, _): return .fileLocked(field: field, path: path, reason: error.description)
        case .cannotOpen(let path, let code):
            return .fileUnreadable(field: field, path: path, reason: errnoText(code))
        case .cannotCreate:
            return MachineError(code: .fileUnreadable, field: field, message: "\(field): \(error.description)")
        case .tooSmall(let path, _): return .fileUnreadable(field: field, path: path, reason: error.description)
        case .notADisk:
            return MachineError(code: .diskWrongType, field: field, message: "\(field): \(error.description)")
        case .smallerThanDeclared:
            return MachineError(code: .diskTooSmall, field: field, message: "\(field): \(error.description)")
        case .readOnlyFileSystem:
            return MachineError(code: .diskReadOnlyMount, field: field, message: "\(field): \(error.description)")
        case .incompatibleReplacement:
            return MachineError(code: .invalidValue, field: field, message: "\(field): \(error.description)")
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
