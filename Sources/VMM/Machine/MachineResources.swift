import ACPI
import Devices
import Virtio
import EventLoop
import GuestMemory
import KVM

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
    /// eventfds registered with KVM (irqfds, in-kernel probes); kept open as long as the VM.
    let eventFDs: [EventFD]

    private init(
        system: KVMSystem, vm: VirtualMachineFD, memory: GuestMemory, bus: DeviceBus, runners: [VCPURunner],
        probes: [ExitProbe], platform: PlatformDevices, console: ConsoleOutput, eventFDs: [EventFD],
        virtioSlots: [VirtioSlot], ioThread: IOThread
    ) {
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

    /// Builds the machine `configuration` describes (already validated) on `system`.
    static func build(
        _ configuration: VirtualMachineConfiguration, system: KVMSystem, boot: GuestBoot, tables: ACPITables?,
        onGuestReady: (@Sendable (UInt64) -> Void)?
    ) throws(MachineError) -> MachineResources {
        do {
            let console: ConsoleOutput
            do { console = try PlatformDevices.consoleOutput(configuration.console) } catch {
                throw MachineError.configuration(error)
            }
            let vm = try system.makeVirtualMachine()
            try vm.setSystemAreas(
                tssAddress: PlatformLayout.tssAddress, identityMapAddress: PlatformLayout.identityMapAddress)
            if configuration.inKernelIRQChip { try vm.createInterruptControllerAndTimer() }

            let memory: GuestMemory
            do { memory = try GuestMemory(totalBytes: configuration.memoryBytes) } catch {
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
                if configuration.inKernelIRQChip {
                    let kernelOwned = builder.add(.kernelOwned)
                    for range in PlatformLayout.kernelOwnedPorts {
                        try builder.mapPorts(
                            base: range.base, length: range.length, slot: kernelOwned, name: range.name)
                    }
                    for range in PlatformLayout.kernelOwnedMMIO {
                        try builder.mapMMIO(base: range.base, length: range.length, slot: kernelOwned, name: range.name)
                    }
                }
                platform = try PlatformDevices.attach(
                    to: &builder, vm: vm, console: console, irqchip: configuration.inKernelIRQChip,
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
            for (index, kind) in VirtioDeviceKind.devices(for: configuration).enumerated() {
                let device: any VirtioDevice
                do { device = try kind.make(machineName: configuration.name) } catch {
                    throw MachineError.configuration(error)
                }
                let slot = try VirtioSlot(
                    device: device, index: index, base: VirtioLayout.base(of: index),
                    gsi: VirtioLayout.gsi(of: index),
                    vm: vm, memory: memory, loop: ioThread.loop)
                do {
                    try builder.mapMMIO(
                        base: slot.base, length: VirtioMMIOTransport.windowSize,
                        slot: builder.add(.virtioMMIO(slot.transport)), name: "virtio-mmio device \(index)")
                } catch {
                    throw MachineError.from(error)
                }
                if let network = device as? VirtioNet {
                    try watchBackend(of: network, device: index, loop: ioThread.loop)
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
            let runners = try makeVCPUs(configuration, vm: vm, bus: bus, system: system, boot: boot)
            return MachineResources(
                system: system, vm: vm, memory: memory, bus: bus, runners: runners, probes: probes, platform: platform,
                console: console, eventFDs: eventFDs, virtioSlots: virtioSlots, ioThread: ioThread)
        } catch let error as KVMError {
            throw MachineError.from(error)
        } catch let error as MachineError {
            throw error
        } catch let error as EventLoopError {
            throw .setupFailed(error.description)
        } catch {
            throw .setupFailed("\(error)")
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
        boot: GuestBoot
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
            runners.append(VCPURunner(vcpu: vcpu, bus: bus))
        }
        return runners
    }

    /// Registers a network device's backend with the I/O loop, quiet until the device asks to
    /// receive (the guest posted buffers) and quiet again when it runs out of them; removed
    /// from the loop when the backend fails for good (its errors would wake the loop forever).
    private static func watchBackend(of network: VirtioNet, device: Int, loop: EventLoop<IOEvent>) throws {
        let registration = try loop.register(
            descriptor: network.backend.descriptor, interest: [], token: .networkReadable(device: device))
        network.setBackendInterestHandler { interest in
            switch interest {
            case .receive: try? loop.modify(registration, interest: .readable)
            case .pause: try? loop.modify(registration, interest: [])
            case .detach:
                loop.unregister(registration)
                let name = (network.backend as? TapBackend)?.tap.name ?? "?"
                writeStandardError(
                    "swiftvmm: tap \(name) failed (deleted?): the guest's NIC receives nothing more and its frames are dropped\n"
                )
            }
        }
    }

    /// Runs on the I/O thread for each event.
    var handleIOEvent: @Sendable (IOEvent) -> Void {
        let slots = virtioSlots
        return { event in
            switch event {
            case .queueNotify(let device, let queue):
                if device < slots.count { slots[device].queueNotified(queue) }
            case .networkReadable(let device):
                guard device < slots.count else { return }
                slots[device].transport.deviceEvent { device throws(QueueError) in
                    try (device as? VirtioNet)?.backendReadable()
                }
            }
        }
    }
}
