import ACPI
import GuestMemory

/// The ACPI tables a machine's guest finds (RSDP at 0xE0000, the rest right after it): the
/// vCPUs, the IOAPIC, COM1, every virtio-mmio device, the power button behind the GED and \\_S5.
enum PlatformTables {
    /// The tables for `configuration` with `virtioCount` devices, or nil when the machine has no
    /// interrupt controller (tiny raw-code guests) or boots raw code.
    static func build(_ configuration: VirtualMachineConfiguration, virtioCount: Int) throws(MachineError)
        -> ACPITables?
    {
        guard configuration.inKernelIRQChip, configuration.rawCode == nil else { return nil }
        let devices = (0..<virtioCount).map {
            VirtioMMIODeviceDescription(base: VirtioLayout.base(of: $0), gsi: VirtioLayout.gsi(of: $0))
        }
        do {
            return try ACPITables(vcpuCount: configuration.vcpuCount, virtioDevices: devices)
        } catch {
            throw .setupFailed("building the ACPI tables failed: \(error)")
        }
    }

    /// Copies the tables into guest memory.
    static func write(_ tables: ACPITables, to memory: GuestMemory) throws(GuestMemoryError) {
        for placement in tables.placements {
            try memory.write(placement.bytes, at: GuestAddress(placement.address))
        }
    }
}
