/// The Fixed ACPI Description Table, revision 6.5 (ACPI 6.5, section 5.2.9), 276 bytes, for a
/// hardware-reduced platform: no PM1/GPE blocks, no PM timer, no FACS, no fixed buttons; sleep
/// (power-off) through the sleep control/status registers and reset through the reset register.
package struct FADT: Sendable, Equatable {
    /// IAPC_BOOT_ARCH flags (offset 109). Linux on x86 reads them even on hardware-reduced systems.
    package struct BootArchitectureFlags: OptionSet, Sendable, Hashable {
        package let rawValue: UInt16
        package init(rawValue: UInt16) { self.rawValue = rawValue }
        package static let legacyDevices = BootArchitectureFlags(rawValue: 1 << 0)
        /// An 8042 keyboard controller is present.
        package static let i8042 = BootArchitectureFlags(rawValue: 1 << 1)
        package static let vgaNotPresent = BootArchitectureFlags(rawValue: 1 << 2)
        package static let msiNotSupported = BootArchitectureFlags(rawValue: 1 << 3)
        package static let pcieASPMControls = BootArchitectureFlags(rawValue: 1 << 4)
        /// No CMOS RTC: Linux then does not probe one (SwiftVMM has none).
        package static let cmosRTCNotPresent = BootArchitectureFlags(rawValue: 1 << 5)
    }

    /// Flags (offset 112) bit numbers used here.
    package static let powerButtonFlag: UInt32 = 1 << 4
    package static let sleepButtonFlag: UInt32 = 1 << 5
    package static let resetRegisterSupportedFlag: UInt32 = 1 << 10
    package static let hardwareReducedFlag: UInt32 = 1 << 20

    /// The DSDT's address, written to X_DSDT (and to the 32-bit DSDT field when it fits).
    package var dsdtAddress: UInt64
    /// SLEEP_CONTROL_REG: writing `SLP_EN | SLP_TYP << 2` enters that sleep state.
    package var sleepControl: GenericAddress
    /// SLEEP_STATUS_REG.
    package var sleepStatus: GenericAddress
    /// RESET_REG and the RESET_VALUE written to it.
    package var reset: GenericAddress
    package var resetValue: UInt8
    /// SCI_INT. Hardware-reduced platforms have no SCI; 0 says so. (Linux on x86 treats a MADT
    /// interrupt source override whose source equals SCI_INT as the SCI's, and defaults its
    /// trigger/polarity to level/low when the override leaves them conforming — so the IRQ 0
    /// override in ``MADT`` carries explicit edge/high flags.)
    package var sciInterrupt: UInt16
    package var bootArchitecture: BootArchitectureFlags
    /// Hypervisor Vendor Identity (offset 268): "SVMM" as ASCII, zero-padded to 8 bytes.
    package var hypervisorVendor: UInt64

    /// "SVMM" in the low four bytes, little-endian.
    package static let swiftVMMVendor: UInt64 = 0x4D4D_5653

    package init(
        dsdtAddress: UInt64, sleepControl: GenericAddress = .ioPort8(0x600),
        sleepStatus: GenericAddress = .ioPort8(0x601), reset: GenericAddress = .ioPort8(0x602), resetValue: UInt8 = 1,
        sciInterrupt: UInt16 = 0, bootArchitecture: BootArchitectureFlags = [.vgaNotPresent, .cmosRTCNotPresent],
        hypervisorVendor: UInt64 = FADT.swiftVMMVendor
    ) {
        self.dsdtAddress = dsdtAddress
        self.sleepControl = sleepControl
        self.sleepStatus = sleepStatus
        self.reset = reset
        self.resetValue = resetValue
        self.sciInterrupt = sciInterrupt
        self.bootArchitecture = bootArchitecture
        self.hypervisorVendor = hypervisorVendor
    }

    /// The table length, 276 bytes.
    package static let length = 276

    /// The table: header revision 6, FADT minor version 5.
    package func bytes() -> [UInt8] {
        var body = [UInt8](repeating: 0, count: FADT.length - 36)
        func put<Value: FixedWidthInteger>(_ value: Value, at offset: Int) {
            body.storeLittleEndian(value, at: offset - 36)
        }
        func put(_ address: GenericAddress, at offset: Int) {
            body.replaceSubrange((offset - 36)..<(offset - 36 + 12), with: address.bytes())
        }
        // FIRMWARE_CTRL (36) and X_FIRMWARE_CTRL (132) stay 0: no FACS on hardware-reduced systems.
        put(UInt32(truncatingIfNeeded: dsdtAddress <= 0xFFFF_FFFF ? dsdtAddress : 0), at: 40)
        put(sciInterrupt, at: 46)
        put(bootArchitecture.rawValue, at: 109)
        let flags =
            FADT.hardwareReducedFlag | FADT.powerButtonFlag | FADT.sleepButtonFlag
            | FADT.resetRegisterSupportedFlag
        put(flags, at: 112)
        put(reset, at: 116)
        put(resetValue, at: 128)
        put(UInt8(5), at: 131)  // FADT minor version: ACPI 6.5
        put(dsdtAddress, at: 140)
        put(sleepControl, at: 244)
        put(sleepStatus, at: 256)
        put(hypervisorVendor, at: 268)
        return systemDescriptionTable(signature: "FACP", revision: 6, body: body)
    }
}
