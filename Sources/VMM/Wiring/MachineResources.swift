import ACPI
@_spi(ExitPath) import Devices
import EventLoop
import GuestMemory
@_spi(ExitPath) import KVM

/// Everything a built machine owns, in its parts: the VM, its guest memory, its devices (with
/// the I/O thread) and its vCPUs, on the host resources it was opened with. Released only after
/// every vCPU thread has been joined, never on a vCPU thread.
final class MachineResources: Sendable {
    let system: KVMSystem
    let vm: VirtualMachineFD
    let memory: GuestMemory
    let devices: DeviceManager
    let vcpus: VCPUManager
    /// What the machine holds of the host (disks, taps, console file, boot files), for the next
    /// machine of a reboot in place.
    let host: HostResources

    /// Builds the machine `configuration` describes (already validated and planned) on the host
    /// resources opened for it, in this order: the VM, its memory, the devices, the guest's boot
    /// image and tables in memory, the vCPUs.
    init(
        _ configuration: VirtualMachineConfiguration, layout: MachineLayout, host: HostResources, boot: GuestBoot,
        tables: ACPITables?, console stream: MachineConsole?, logRelay: LogRelay,
        onGuestReady: (@Sendable (UInt64) -> Void)?
    ) throws(MachineError) {
        self.host = host
        system = host.system
        do {
            vm = try Self.makeVirtualMachine(configuration, layout: layout, system: system)
            memory = try Self.mapMemory(configuration, vm: vm)
            devices = try DeviceManager(
                configuration, layout: layout, vm: vm, memory: memory, host: host,
                console: PlatformDevices.consoleOutput(configuration.console, stream: stream, file: host.consoleFile),
                logRelay: logRelay, onGuestReady: onGuestReady)
            do {
                try boot.load(into: memory)
                if let tables { try PlatformTables.write(tables, to: memory) }
            } catch {
                throw MachineError.from(error)
            }
            vcpus = try VCPUManager(configuration, vm: vm, bus: devices.bus, system: system, boot: boot)
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

    private static func makeVirtualMachine(
        _ configuration: VirtualMachineConfiguration, layout: MachineLayout, system: KVMSystem
    ) throws(KVMError) -> VirtualMachineFD {
        let vm = try system.makeVirtualMachine()
        try vm.setSystemAreas(tssAddress: layout.tssAddress, identityMapAddress: layout.identityMapAddress)
        if configuration.inKernelIRQChip { try vm.createInterruptControllerAndTimer() }
        return vm
    }

    /// Allocates guest memory as configured and maps each piece into the VM.
    private static func mapMemory(_ configuration: VirtualMachineConfiguration, vm: VirtualMachineFD) throws
        -> GuestMemory
    {
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
        return memory
    }
}
