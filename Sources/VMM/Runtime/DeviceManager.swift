import ACPI
@_spi(ExitPath) import Devices
import EventLoop
import GuestMemory
@_spi(ExitPath) import KVM
import Logging
import Sandbox
@_spi(ExitPath) import Virtio

/// A machine's devices: the bus every exit is dispatched on, the platform devices (serial
/// console, power button, boot timer …), the exit probes, the virtio devices in their slots,
/// and the I/O thread that serves them.
final class DeviceManager: Sendable {
    let bus: DeviceBus
    let platform: PlatformDevices
    /// The guest console's buffered sink (written out by the console thread).
    let console: ConsoleOutput
    let probes: [ExitProbe]
    let virtioSlots: [VirtioSlot]
    let ioThread: IOThread
    /// eventfds registered with KVM (irqfds, in-kernel probes); kept open as long as the VM.
    let eventFDs: [EventFD]

    /// Creates every device `layout` places, wires its interrupts and notifications on `vm`,
    /// and maps it on the bus: the ranges KVM keeps, the platform devices, the probes, the
    /// virtio devices on the disks and taps `host` holds.
    init(
        _ configuration: VirtualMachineConfiguration, layout: MachineLayout, vm: VirtualMachineFD,
        memory: GuestMemory, host: HostResources, console: ConsoleOutput, logRelay: LogRelay,
        onGuestReady: (@Sendable (UInt64) -> Void)?
    ) throws {
        var builder = DeviceBusBuilder()
        var eventFDs: [EventFD] = []
        var probes: [ExitProbe] = []
        do {
            let kernelOwned = builder.add(.kernelOwned)
            for range in layout.kernelOwnedPorts {
                try builder.mapPorts(
                    base: UInt16(range.base), length: range.length, slot: kernelOwned, name: range.name)
            }
            for range in layout.kernelOwnedMMIO {
                try builder.mapMMIO(base: range.base, length: range.length, slot: kernelOwned, name: range.name)
            }
            platform = try PlatformDevices.attach(
                to: &builder, layout: layout, vm: vm, console: console, irqchip: configuration.inKernelIRQChip,
                onGuestReady: onGuestReady)
            for (index, probeConfiguration) in configuration.probes.enumerated() {
                let probe = ExitProbe(readValue: probeConfiguration.readValue)
                probes.append(probe)
                let slot = builder.add(.probe(probe))
                let name = "probes[\(index)]"
                switch probeConfiguration.space {
                case .port:
                    try builder.mapPorts(
                        base: UInt16(probeConfiguration.address), length: probeConfiguration.length, slot: slot,
                        name: name)
                case .mmio:
                    try builder.mapMMIO(
                        base: probeConfiguration.address, length: probeConfiguration.length, slot: slot, name: name)
                }
                if probeConfiguration.inKernel {
                    eventFDs.append(try Self.registerInKernelProbe(probeConfiguration, vm: vm))
                }
            }
        } catch let error as BusError {
            throw MachineError.from(error)
        }

        let ioThread = try IOThread()
        var virtioSlots: [VirtioSlot] = []
        for (index, placement) in layout.virtioDevices.enumerated() {
            let device = placement.kind.make(machineName: configuration.name, host: host)
            let slot = try VirtioSlot(
                device: device, index: index, placement: placement, vm: vm, memory: memory, loop: ioThread.loop,
                logRelay: logRelay)
            do {
                try builder.mapMMIO(
                    base: slot.base, length: VirtioMMIOTransport.windowSize,
                    slot: builder.add(.virtioMMIO(slot.transport)), name: "virtio-mmio device \(index)")
            } catch {
                throw MachineError.from(error)
            }
            virtioSlots.append(slot)
        }
        do { bus = try builder.build() } catch { throw MachineError.from(error) }
        self.console = console
        self.probes = probes
        self.virtioSlots = virtioSlots
        self.ioThread = ioThread
        self.eventFDs = eventFDs + platform.interruptLines
    }

    private static func registerInKernelProbe(_ probe: ExitProbeConfiguration, vm: VirtualMachineFD) throws -> EventFD {
        let event = try EventFD()
        try vm.registerIOEvent(
            eventFD: event.rawValue, space: probe.space == .port ? .port : .mmio, address: probe.address,
            length: UInt32(probe.length))
        return event
    }

    /// The disks' devices and transports, in configuration order.
    var diskSlots: [(disk: VirtioBlock, transport: VirtioMMIOTransport)] {
        virtioSlots.compactMap { slot in (slot.transport.device as? VirtioBlock).map { ($0, slot.transport) } }
    }

    /// The network devices, in configuration order.
    var networkDevices: [VirtioNet] { virtioSlots.compactMap { $0.transport.device as? VirtioNet } }

    /// Starts the disks' engines (their worker threads) and then the I/O thread under the `io`
    /// seccomp profile; console input goes through `inputPump`, if any.
    func start(seccomp: SeccompMode, inputPump: ConsoleInputPump?) throws {
        for (index, disk) in diskSlots.map(\.disk).enumerated() {
            do {
                try disk.startEngine()
            } catch {
                throw MachineError.setupFailed("disks[\(index)]", error.description)
            }
        }
        try ioThread.start(seccomp: seccomp, ioEventHandler(inputPump: inputPump))
    }

    /// What the I/O thread runs for each event.
    private func ioEventHandler(inputPump: ConsoleInputPump?) -> @Sendable (IOEvent) -> Void {
        let slots = virtioSlots
        return { event in
            switch event {
            case .device(let index, let token):
                if index < slots.count { slots[index].handle(token) }
            case .consoleInput: inputPump?.inputReadable()
            case .consoleInputRoom: inputPump?.roomAvailable()
            }
        }
    }

    /// Stops the I/O thread after every disk's engine finished what it had in flight (completed
    /// to the guest as usual: the vCPUs have ended, nothing new arrives), then makes every
    /// disk's completed writes durable (fdatasync), whatever ended the machine.
    func stop(logger: Logger) {
        for (disk, transport) in diskSlots {
            transport.withDeviceLocked { _ in disk.finishInFlight() }
        }
        ioThread.stop()
        for (index, slot) in virtioSlots.enumerated() {
            guard let disk = slot.transport.device as? VirtioBlock, !disk.backend.isReadOnly else { continue }
            if disk.backend.flush() != BlockRequest.Status.ok {
                logger.error("disk flush failed at stop", metadata: ["virtio_slot": "\(index)"])
            }
        }
    }
}
