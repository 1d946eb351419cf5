@_spi(ExitPath) import Devices
import EventLoop
import GuestMemory
@_spi(ExitPath) import KVM
import Sandbox
import Synchronization
@_spi(ExitPath) import Virtio

/// One virtio-mmio device of a machine: its transport, window, interrupt line and one
/// notification eventfd per queue (a KVM ioeventfd on QueueNotify with the queue index as
/// datamatch). The device itself registers what it wants the I/O thread to watch (its queues'
/// eventfds, its tap or completion eventfd) when the driver activates it; the I/O thread hands
/// each event back here as the device's token.
final class VirtioSlot: Sendable {
    let transport: VirtioMMIOTransport
    let base: UInt64
    let gsi: UInt32
    let queueEvents: [EventFD]
    let interruptLine: EventFD
    private let eventNotifications = Atomic<UInt64>(0)
    /// Signals the I/O thread gave itself to continue a queue (not counted as notifications).
    private let selfSignals = Atomic<UInt64>(0)

    /// Creates the transport for `device` at its planned window and GSI and wires its irqfd and
    /// ioeventfds; the device's event registrations go to `loop` as `.device(index, token)`.
    init(
        device: any VirtioDevice, index: Int, placement: MachineLayout.VirtioPlacement, vm: VirtualMachineFD,
        memory: GuestMemory, loop: EventLoop<IOEvent>, logRelay: LogRelay
    ) throws {
        let base = placement.base
        self.base = base
        self.gsi = placement.gsi
        let line = try EventFD()
        try vm.registerIRQEvent(eventFD: line.rawValue, gsi: placement.gsi)
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
        let type = device.deviceID
        let registrar = IOThreadRegistrar(loop: loop, device: index, type: type, logRelay: logRelay)
        transport = VirtioMMIOTransport(
            device: device, memory: memory, interrupt: VirtioInterrupt(line: line),
            events: DeviceEvents(registrar: registrar, queueNotifiers: events.map(\.rawValue)),
            needsResetHandler: {
                logRelay.post(
                    .warning, key: "needs-reset-\(index)",
                    "virtio device \(index) (type \(type)) set DEVICE_NEEDS_RESET: the guest's driver broke"
                        + " the protocol (a bad queue set-up or register access); the device stops until it resets")
            })
    }

    /// Notification counts: through the queues' ioeventfds, and through the register.
    var notificationCounts: VirtioNotificationCounts {
        VirtioNotificationCounts(
            throughEventFD: eventNotifications.load(ordering: .relaxed),
            throughRegister: transport.notificationsThroughRegister)
    }

    /// One of the device's watched descriptors is ready (on the I/O thread).
    func handle(_ token: DeviceEventToken) {
        switch token {
        case .queue(let queue): queueNotified(queue)
        case .source(let source): transport.sourceReady(source)
        }
    }

    /// Queue `queue`'s eventfd fired: consume it and let the device work. When the device stops
    /// at its work budget, the eventfd is signalled again so the queue is taken up after the
    /// other events waiting (each wake-up does bounded work; stop requests get through).
    private func queueNotified(_ queue: Int) {
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

/// The I/O thread's event loop as a device's registrar: a ready descriptor comes back as
/// `.device(index, token)`; a device's reports go to the machine's log, rate-limited per device.
struct IOThreadRegistrar: DeviceEventRegistrar {
    let loop: EventLoop<IOEvent>
    let device: Int
    let type: UInt32
    let logRelay: LogRelay

    final class Watch: DeviceEventWatch {
        let loop: EventLoop<IOEvent>
        let registration: EventLoop<IOEvent>.Registration
        /// Cancelled already: a second cancel must not remove a later registration of the same
        /// descriptor (a queue's eventfd is watched again at the next activation).
        private let cancelled = Atomic<Bool>(false)

        init(loop: EventLoop<IOEvent>, registration: EventLoop<IOEvent>.Registration) {
            self.loop = loop
            self.registration = registration
        }

        func change(interest: EventInterest) throws(EventLoopError) {
            guard !cancelled.load(ordering: .acquiring) else { return }
            try loop.modify(registration, interest: interest)
        }

        func cancel() {
            guard !cancelled.exchange(true, ordering: .acquiringAndReleasing) else { return }
            loop.unregister(registration)
        }
    }

    func watch(_ descriptor: Int32, token: DeviceEventToken, interest: EventInterest) throws(EventLoopError)
        -> any DeviceEventWatch
    {
        let registration = try loop.register(
            descriptor: descriptor, interest: interest, token: .device(index: device, token: token))
        return Watch(loop: loop, registration: registration)
    }

    func report(_ problem: String) {
        logRelay.post(.error, key: "device-\(device)", "virtio device \(device) (type \(type)): \(problem)")
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

    /// Creates the device on the disk or tap `host` holds for it.
    func make(machineName: String, host: HostResources) -> any VirtioDevice {
        switch self {
        case .network(let index, let interface):
            return VirtioNet(
                backend: host.taps[index], mac: interface.macAddress(machineName: machineName, index: index),
                mtu: interface.mtu.flatMap { UInt16(exactly: $0) })
        case .entropy:
            return VirtioEntropy()
        case .block(let index, let disk):
            let opened = host.disks[index]
            return VirtioBlock(
                backend: opened.backend, serial: disk.serial, queueCount: disk.queues, engine: opened.engine)
        }
    }
}

extension VirtioDeviceKind {
    /// The engine for a disk's `aio` setting; `auto` takes io_uring where the host allows it and
    /// says in the log when it falls back to the worker threads. Worker threads run under the
    /// I/O thread's seccomp profile.
    static func blockEngine(
        _ aio: DiskConfiguration.AsyncIO, field: String, index: Int, seccomp: SeccompMode, logRelay: LogRelay
    ) throws(MachineError) -> any BlockEngine {
        let spawn: BlockWorkerSpawner = { name, body in
            try sandboxedThread(name: name, profile: .io, seccomp: seccomp, body)
        }
        let name = "vmm-blk\(index)"
        do {
            let engine: any BlockEngine
            var reason = ""
            switch aio {
            case .sync: engine = try BlockEngines.make(.sync, name: name, spawn: spawn)
            case .threads: engine = try BlockEngines.make(.threads, name: name, spawn: spawn)
            case .ioUring: engine = try BlockEngines.make(.ioUring, name: name, spawn: spawn)
            case .auto:
                let (automatic, refusal) = try BlockEngines.automatic(name: name, spawn: spawn)
                engine = automatic
                if let refusal { reason = " (aio auto: \(refusal.description))" }
            }
            logRelay.post(
                .info, key: "aio-\(index)", "\(field): aio \(engine.kind.rawValue)\(reason)")
            return engine
        } catch {
            if case .ioUringUnavailable(let code) = error {
                throw MachineError.hostUnsupported(
                    "\(field).aio: \(error.description); use aio auto or threads (worker threads do the same"
                        + " without io_uring)", cause: SystemCause(operation: "io_uring_setup", errno: code))
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
            return .fileUnreadable(
                field: field, path: path, reason: errnoText(code),
                cause: SystemCause(operation: "open(\(path))", errno: code))
        case .cannotCreate(let path, let code):
            return MachineError(
                code: .fileUnreadable, field: field, message: "\(field): \(error.description)",
                cause: SystemCause(operation: "open(\(path), O_CREAT)", errno: code))
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
