/// The Multiple APIC Description Table, revision 5 (ACPI 6.5, section 5.2.12).
///
/// Entries: one Processor Local APIC per vCPU (ACPI processor UID = APIC ID = vCPU index,
/// enabled), one I/O APIC, the ISA IRQ 0 → GSI 2 interrupt source override (edge, active high)
/// and a Local APIC NMI on LINT1 for all processors.
///
/// PCAT_COMPAT defaults to 1: KVM's in-kernel irqchip does emulate the dual 8259 PICs (their
/// ports are reserved on the bus), and that is what the flag states; Linux then masks them and
/// routes through the I/O APIC. Set ``pcatCompatible`` to false for a VM without a PIC.
package struct MADT: Sendable, Equatable {
    package var vcpuCount: Int
    package var localAPICAddress: UInt32
    package var ioAPICAddress: UInt32
    /// The I/O APIC's ID; by default the vCPU count (the first ID after the local APICs).
    package var ioAPICID: UInt8?
    package var pcatCompatible: Bool

    /// The largest vCPU count with xAPIC entries (APIC IDs 0...253; 0xFF is broadcast and the
    /// I/O APIC takes the next ID).
    package static let maximumVCPUCount = 254

    package init(
        vcpuCount: Int, localAPICAddress: UInt32 = 0xFEE0_0000, ioAPICAddress: UInt32 = 0xFEC0_0000,
        ioAPICID: UInt8? = nil, pcatCompatible: Bool = true
    ) {
        self.vcpuCount = vcpuCount
        self.localAPICAddress = localAPICAddress
        self.ioAPICAddress = ioAPICAddress
        self.ioAPICID = ioAPICID
        self.pcatCompatible = pcatCompatible
    }

    /// The table; throws when the vCPU count is outside 1...``maximumVCPUCount``.
    package func bytes() throws(ACPIError) -> [UInt8] {
        guard (1...MADT.maximumVCPUCount).contains(vcpuCount) else {
            throw .invalid("MADT: vCPU count \(vcpuCount) is outside 1...\(MADT.maximumVCPUCount)")
        }
        var body: [UInt8] = []
        body.appendLittleEndian(localAPICAddress)
        body.appendLittleEndian(UInt32(pcatCompatible ? 1 : 0))
        for index in 0..<vcpuCount {
            // Processor Local APIC: type 0, length 8, UID, APIC ID, flags (bit 0 enabled).
            body += [0, 8, UInt8(index), UInt8(index)]
            body.appendLittleEndian(UInt32(1))
        }
        // I/O APIC: type 1, length 12, ID, reserved, address, GSI base.
        body += [1, 12, ioAPICID ?? UInt8(vcpuCount), 0]
        body.appendLittleEndian(ioAPICAddress)
        body.appendLittleEndian(UInt32(0))
        // Interrupt Source Override: type 2, length 10, bus 0 (ISA), IRQ 0, GSI 2,
        // flags: polarity 01 (active high), trigger 01 (edge) = 0x0005.
        body += [2, 10, 0, 0]
        body.appendLittleEndian(UInt32(2))
        body.appendLittleEndian(UInt16(0x0005))
        // Local APIC NMI: type 4, length 6, all processors (0xFF), flags 0 (conforming), LINT1.
        body += [4, 6, 0xFF]
        body.appendLittleEndian(UInt16(0))
        body.append(1)
        return systemDescriptionTable(signature: "APIC", revision: 5, body: body)
    }
}
