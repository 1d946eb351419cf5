import ACPI
@_spi(ExitPath) import Devices
import GuestMemory
@_spi(ExitPath) import Virtio

/// Where everything of one machine goes: guest RAM, the fixed devices' ports and windows, each
/// virtio-mmio device's window and GSI, and the interrupt lines. One pure value, planned from
/// the configuration before anything is built; the bus, the interrupt wiring, the ACPI tables
/// and the boot command line all read from it, so they cannot disagree.
///
/// Interrupts: COM1 on GSI 4, virtio devices on GSIs 5–22 (one each, so at most
/// `maximumVirtioDevices`), the power button on GSI 23 (the last IOAPIC pin).
struct MachineLayout: Sendable {
    /// A virtio-mmio device's place: the device, its 4 KiB register window and its GSI.
    struct VirtioPlacement: Sendable {
        let kind: VirtioDeviceKind
        let base: UInt64
        let gsi: UInt32
    }

    /// A fixed range the in-kernel irqchip answers (it never exits to user space).
    struct KernelOwned: Sendable {
        let name: String
        let base: UInt64
        let length: UInt64
    }

    /// The first virtio-mmio window: right after the boot timer's page.
    static let firstVirtioBase: UInt64 = 0xd000_1000
    static let firstVirtioGSI: UInt32 = 5
    static let powerButtonGSI: UInt32 = 23
    static let serialGSI: UInt32 = 4
    /// GSIs 5–22: one per device, 23 stays the power button's.
    static let maximumVirtioDevices = Int(powerButtonGSI - firstVirtioGSI)

    /// Guest RAM: below the 3–4 GiB hole, and above 4 GiB for the rest.
    let memory: GuestMemoryLayout
    /// KVM's identity-map page (Intel real-mode support), in the MMIO hole below 4 GiB.
    let identityMapAddress: UInt64 = 0xFEFF_C000
    /// KVM's three-page real-mode TSS, just above the identity-map page.
    let tssAddress: UInt64 = 0xFEFF_D000
    let serialPort = Serial16550.com1Port
    let serialGSI = MachineLayout.serialGSI
    let debugExitPort = DebugExitPort.defaultPort
    let powerControlPort = PowerControl.defaultPort
    let powerButtonPort = PowerButton.defaultPort
    let powerButtonGSI = MachineLayout.powerButtonGSI
    let i8042Port = I8042.commandPort
    let bootTimerAddress = BootTimer.defaultAddress
    /// The virtio devices in window order: disks (vda, vdb, …), NICs, then the entropy device.
    let virtioDevices: [VirtioPlacement]
    /// Port ranges of the in-kernel PICs, PIT, speaker port and ELCR (empty without the irqchip).
    let kernelOwnedPorts: [KernelOwned]
    /// MMIO windows of the in-kernel IOAPIC and local APICs (empty without the irqchip).
    let kernelOwnedMMIO: [KernelOwned]

    /// Plans `configuration`'s machine. Throws when it has more virtio devices than GSIs.
    init(_ configuration: VirtualMachineConfiguration) throws(MachineError) {
        do { memory = try GuestMemoryLayout(totalBytes: configuration.memoryBytes) } catch {
            throw .invalidValue(
                field: "memory_mib", value: "\(configuration.memoryMiB)",
                expected: "a size the guest's RAM layout takes (\(error))")
        }
        try Self.checkDeviceLimit(configuration)
        let kinds = VirtioDeviceKind.devices(for: configuration)
        virtioDevices = kinds.enumerated().map { index, kind in
            VirtioPlacement(
                kind: kind, base: Self.firstVirtioBase + UInt64(index) * VirtioMMIOTransport.windowSize,
                gsi: Self.firstVirtioGSI + UInt32(index))
        }
        if configuration.inKernelIRQChip {
            kernelOwnedPorts = [
                KernelOwned(name: "in-kernel PIC (master)", base: 0x20, length: 2),
                KernelOwned(name: "in-kernel PIT", base: 0x40, length: 4),
                KernelOwned(name: "in-kernel PIT speaker port", base: 0x61, length: 1),
                KernelOwned(name: "in-kernel PIC (slave)", base: 0xa0, length: 2),
                KernelOwned(name: "in-kernel ELCR", base: 0x4d0, length: 2),
            ]
            kernelOwnedMMIO = [
                KernelOwned(name: "in-kernel IOAPIC", base: 0xfec0_0000, length: 0x1000),
                KernelOwned(name: "in-kernel local APIC", base: 0xfee0_0000, length: 0x1000),
            ]
        } else {
            kernelOwnedPorts = []
            kernelOwnedMMIO = []
        }
    }

    /// Throws when `configuration` has more virtio devices than there are GSIs for them.
    static func checkDeviceLimit(_ configuration: VirtualMachineConfiguration) throws(MachineError) {
        let count = VirtioDeviceKind.devices(for: configuration).count
        guard count > maximumVirtioDevices else { return }
        throw .invalidValue(
            field: "disks",
            value:
                "\(configuration.disks.count) disks, \(configuration.networkInterfaces.count) NICs and "
                + "\(configuration.entropyDevice ? 1 : 0) rng",
            expected: "at most \(maximumVirtioDevices) virtio devices in all (one interrupt line each)")
    }

    /// The `virtio_mmio.device=SIZE@ADDR:IRQ` token Linux (and the test firmware) read for a device.
    static func commandLineToken(_ placement: VirtioPlacement) -> String {
        "virtio_mmio.device=4K@0x\(String(placement.base, radix: 16)):\(placement.gsi)"
    }

    /// `base` with one token per virtio device appended.
    func commandLine(_ base: String) -> String {
        ([base] + virtioDevices.map(Self.commandLineToken)).filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// The fixed devices as the ACPI tables describe them.
    var acpiPlatform: ACPIPlatform {
        ACPIPlatform(
            serialPort: serialPort, serialIRQ: serialGSI, sleepControlPort: powerControlPort,
            sleepStatusPort: powerControlPort + 1, resetPort: powerControlPort + 2,
            powerButtonPort: powerButtonPort, powerButtonGSI: powerButtonGSI)
    }

    /// The virtio devices as the ACPI tables describe them.
    var acpiVirtioDevices: [VirtioMMIODeviceDescription] {
        virtioDevices.map {
            VirtioMMIODeviceDescription(base: $0.base, size: VirtioMMIOTransport.windowSize, gsi: $0.gsi)
        }
    }
}
