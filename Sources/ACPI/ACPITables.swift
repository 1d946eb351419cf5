/// The complete set of ACPI tables for one VM and where each goes in guest-physical memory.
///
/// The RSDP goes at ``rsdpAddress`` (16-byte aligned, inside the BIOS area 0xE0000–0xFFFFF that
/// Linux scans; PVH and bzImage boot also pass its address explicitly). The XSDT, FADT, MADT and
/// DSDT follow it, each 16-byte aligned — in the same area unless `tableAddress` says otherwise.
/// This type knows nothing of guest memory: the VMM writes each placement's bytes at its address.
package struct ACPITables: Sendable, Equatable {
    /// One table and its guest-physical address.
    package struct Placement: Sendable, Equatable {
        /// "RSDP", "XSDT", "FACP", "APIC" or "DSDT".
        package var signature: String
        package var address: UInt64
        package var bytes: [UInt8]
    }

    /// The BIOS read-only area where the RSDP (and by default every table) goes.
    package static let biosArea: Range<UInt64> = 0xE_0000..<0x10_0000

    /// The tables in address order, RSDP first.
    package let placements: [Placement]
    /// Where the RSDP is (what boot protocols hand to the guest).
    package let rsdpAddress: UInt64

    /// Builds the tables.
    /// - Parameters:
    ///   - vcpuCount: vCPUs (APIC IDs 0..<vcpuCount); the I/O APIC gets ID `vcpuCount`.
    ///   - virtioDevices: the virtio-mmio devices, described as VR00, VR01, … in that order.
    ///   - platform: ports and interrupts of the fixed devices.
    ///   - rsdpAddress: 16-byte aligned, within ``biosArea``.
    ///   - tableAddress: where the other tables start; nil puts them right after the RSDP, and then
    ///     they must all fit below 0x100000.
    package init(
        vcpuCount: Int, virtioDevices: [VirtioMMIODeviceDescription], platform: ACPIPlatform = ACPIPlatform(),
        rsdpAddress: UInt64 = 0xE_0000, tableAddress: UInt64? = nil
    ) throws(ACPIError) {
        guard ACPITables.biosArea.contains(rsdpAddress), rsdpAddress % 16 == 0,
            rsdpAddress + 36 <= ACPITables.biosArea.upperBound
        else {
            throw .invalid(
                "RSDP address 0x\(String(rsdpAddress, radix: 16)) must be 16-byte aligned within 0xE0000-0xFFFFF")
        }
        let dsdt = try DSDT(platform: platform, virtioDevices: virtioDevices).bytes()
        let madt = try MADT(vcpuCount: vcpuCount).bytes()
        func aligned(_ address: UInt64) -> UInt64 { (address + 15) & ~15 }
        let start = tableAddress ?? aligned(rsdpAddress + 36)
        let xsdtAddress = aligned(start)
        let xsdtLength: UInt64 = 36 + 2 * 8
        let fadtAddress = aligned(xsdtAddress + xsdtLength)
        let madtAddress = aligned(fadtAddress + UInt64(FADT.length))
        let dsdtAddress = aligned(madtAddress + UInt64(madt.count))
        let (end, overflow) = dsdtAddress.addingReportingOverflow(UInt64(dsdt.count))
        guard !overflow else { throw .invalid("ACPI tables at 0x\(String(start, radix: 16)) overflow") }
        if tableAddress == nil, end > ACPITables.biosArea.upperBound {
            throw .invalid(
                "ACPI tables need \(end - start) bytes and do not fit below 0x100000 after the RSDP; "
                    + "pass a tableAddress in reserved RAM")
        }
        let fadt = FADT(
            dsdtAddress: dsdtAddress, sleepControl: .ioPort8(platform.sleepControlPort),
            sleepStatus: .ioPort8(platform.sleepStatusPort), reset: .ioPort8(platform.resetPort),
            resetValue: platform.resetValue
        ).bytes()
        let xsdt = XSDT(tableAddresses: [fadtAddress, madtAddress]).bytes()
        placements = [
            Placement(signature: "RSDP", address: rsdpAddress, bytes: RSDP(xsdtAddress: xsdtAddress).bytes()),
            Placement(signature: "XSDT", address: xsdtAddress, bytes: xsdt),
            Placement(signature: "FACP", address: fadtAddress, bytes: fadt),
            Placement(signature: "APIC", address: madtAddress, bytes: madt),
            Placement(signature: "DSDT", address: dsdtAddress, bytes: dsdt),
        ]
        self.rsdpAddress = rsdpAddress
    }
}
