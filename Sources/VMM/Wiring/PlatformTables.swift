import ACPI
import GuestMemory

/// The ACPI tables a machine's guest finds (RSDP at 0xE0000, the rest right after it): the
/// vCPUs, the IOAPIC, COM1, every virtio-mmio device, the power button behind the GED and \\_S5.
enum PlatformTables {
    /// The tables for `configuration` as `layout` places it, or nil when the machine has no
    /// interrupt controller (tiny raw-code guests) or boots raw code.
    static func build(_ configuration: VirtualMachineConfiguration, layout: MachineLayout) throws(MachineError)
        -> ACPITables?
    {
        guard configuration.inKernelIRQChip, configuration.rawCode == nil else { return nil }
        do {
            return try ACPITables(
                vcpuCount: configuration.vcpuCount, virtioDevices: layout.acpiVirtioDevices,
                platform: layout.acpiPlatform)
        } catch {
            throw .setupFailed("ACPI tables", "building them failed: \(error)")
        }
    }

    /// Copies the tables into guest memory.
    static func write(_ tables: ACPITables, to memory: GuestMemory) throws(GuestMemoryError) {
        for placement in tables.placements {
            try memory.write(placement.bytes, at: GuestAddress(placement.address))
        }
    }
}
