import ACPI
@_spi(ExitPath) import Devices
@_spi(ExitPath) import Virtio
import EventLoop
import GuestMemory
@_spi(ExitPath) import KVM

#if canImport(Glibc)
    import Glibc
#endif

/// Everything a built machine owns: the VM, its memory, bus, vCPUs and event fds. Released
/// only after every vCPU thread has been joined, never on a vCPU thread.
final class MachineResources: Sendable {
    let system: KVMSystem
    let vm: VirtualMachineFD
    let memory: GuestMemory
    let bus: DeviceBus
    let runners: [VCPURunner]
    let probes: [ExitProbe]
    let serial: Serial16550
    /// The guest console's buffered sink (written out by the console thread).
    let console: ConsoleOutput
    let powerButton: PowerButton
    let bootTimer: BootTimer
    let virtioSlots: [VirtioSlot]
    let ioThread: IOThread
    /// Where the vCPU threads park while the machine is paused.
    let pauseGate: PauseGate
    /// Signalled by each vCPU thread as it ends (the monitor counts them).
    let vcpuEnded: EventFD
    /// eventfds registered with KVM (irqfds, in-kernel probes); kept open as long as the VM.
    let eventFDs: [EventFD]
    /// What the machine holds of the host (disks, taps, console file, boot files), for the next
    /// machine of a reboot in place.
    let host: HostResources

    private init(
        system: KVMSystem, vm: VirtualMachineFD, memory: GuestMemory, bus: DeviceBus, runners: [VCPURunner],
        probes: [ExitProbe], platform: PlatformDevices, console: ConsoleOutput, eventFDs: [EventFD],
        virtioSlots: [VirtioSlot], ioThread: IOThread, pauseGate: PauseGate, vcpuEnded: EventFD, host: HostResources
    ) {
        self.host = host
        self.pauseGate = pauseGate
        self.vcpuEnded = vcpuEnded
        self.console = console
        self.virtioSlots = virtioSlots
        self.ioThread = ioThread
        self.system = system
        self.vm = vm
        self.memory = memory
        self.bus = bus
        self.runners = runners
        self.probes = probes
        self.serial = platform.serial
        self.powerButton = platform.powerButton
        self.bootTimer = platform.bootTimer
        self.eventFDs = eventFDs + platform.interruptLines
    }

    /// Builds the machine `configuration` describes (already validated and planned) on the
    /// host resources opened for it.
    static func build(
        _ configuration: VirtualMachineConfiguration, layout: MachineLayout, host: HostResources, boot: GuestBoot,
        tables: ACPITables?, console stream: MachineConsole?, logRelay: LogRelay,
        onGuestReady: (@Sendable (UInt64) -> Void)?
    ) throws(MachineError) -> MachineResources {
        let system = host.system
        do {
            let console = PlatformDevices.consoleOutput(configuration.console, stream: stream, file: host.consoleFile)
            let vm = try system.makeVirtualMachine()
            try vm.setSystemAreas(tssAddress: layout.tssAddress, identityMapAddress: layout.identityMapAddress)
            if configuration.inKernelIRQChip { try vm.createInterruptControllerAndTimer() }

            let memory: GuestMemory
            do {
                memory = try GuestMemory(
                    totalBytes: configuration.memoryBytes, backing: configuration.memoryBacking.guestMemoryBacking,
                    prefault: configuration.memoryPrefault)
            } catch {
                throw MachineError.from(error)
            }
            for (slot, mapping) in memory.mappings.enumerated() {
                try vm.setUserMemoryRegion(
                    slot: UInt32(slot), guestAddress: mapping.guestStart, size: mapping.size,
                    hostAddress: mapping.hostAddress)
            }

            var builder = DeviceBusBuilder()
            var eventFDs: [EventFD] = []
            var probes: [ExitProbe] = []
            let platform: PlatformDevices
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
                        eventFDs.append(try registerInKernelProbe(probeConfiguration, vm: vm))
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
                    device: device, index: index, placement: placement, vm: vm, memory: memory,
                    loop: ioThread.loop, logRelay: logRelay)
                do {
                    try builder.mapMMIO(
                        base: slot.base, length: VirtioMMIOTransport.windowSize,
                        slot: builder.add(.virtioMMIO(slot.transport)), name: "virtio-mmio device \(index)")
                } catch {
                    throw MachineError.from(error)
                }
                virtioSlots.append(slot)
            }

            do {
                try boot.load(into: memory)
                if let tables { try PlatformTables.write(tables, to: memory) }
            } catch {
                throw MachineError.from(error)
            }

            let bus: DeviceBus
            do { bus = try builder.build() } catch { throw MachineError.from(error) }
            let pauseGate = PauseGate()
            let runners = try makeVCPUs(
                configuration, vm: vm, bus: bus, system: system, boot: boot, pauseGate: pauseGate)
            return MachineResources(
                system: system, vm: vm, memory: memory, bus: bus, runners: runners, probes: probes, platform: platform,
                console: console, eventFDs: eventFDs, virtioSlots: virtioSlots, ioThread: ioThread,
                pauseGate: pauseGate, vcpuEnded: try EventFD(), host: host)
        } catch let error as KVMError {
            throw MachineError.from(error)
        } catch let error as MachineError {
            throw error
        } catch let error as EventLoopError {
            throw MachineError.from(error, resource: "event loop")
        } catch let error as GuestMemoryError {
            throw MachineError.from(error)
        } catch {
            throw MachineError.setupFailed("machine", "\(error)")
        }
    }

    private static func registerInKernelProbe(_ probe: ExitProbeConfiguration, vm: VirtualMachineFD) throws -> EventFD {
        let event = try EventFD()
        try vm.registerIOEvent(
            eventFD: event.rawValue, space: probe.space == .port ? .port : .mmio, address: probe.address,
            length: UInt32(probe.length))
        return event
    }

    private static func makeVCPUs(
        _ configuration: VirtualMachineConfiguration, vm: VirtualMachineFD, bus: DeviceBus, system: KVMSystem,
        boot: GuestBoot, pauseGate: PauseGate
    ) throws -> [VCPURunner] {
        let supported = try system.supportedCPUID()
        let vcpus = try (0..<configuration.vcpuCount).map { index throws(KVMError) in try vm.makeVCPU(index: index) }
        let topology = CPUIDTopology(
            vcpuCount: configuration.vcpuCount,
            tscDeadlineTimer: system.capabilityValue(.tscDeadlineTimer) > 0,
            tscFrequencyKHz: vcpus.first?.tscFrequencyKHz())
        var runners: [VCPURunner] = []
        for vcpu in vcpus {
            try vcpu.setCPUID(topology.entries(from: supported, vcpuIndex: vcpu.index))
            if configuration.inKernelIRQChip { try vcpu.configureLocalInterruptPins() }
            if vcpu.index == 0 {
                let (general, special) = boot.initialRegisters(base: try vcpu.specialRegisters())
                try vcpu.setSpecialRegisters(special)
                try vcpu.setGeneralRegisters(general)
            }
            runners.append(VCPURunner(vcpu: vcpu, bus: bus, pauseGate: pauseGate))
        }
        return runners
    }

    /// What the I/O thread runs for each event (console input through `inputPump`, if any).
    func ioEventHandler(inputPump: ConsoleInputPump?) -> @Sendable (IOEvent) -> Void {
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
}
