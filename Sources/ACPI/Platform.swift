/// A virtio-mmio device as the DSDT describes it (Linux's virtio_mmio driver matches "LNRO0005").
package struct VirtioMMIODeviceDescription: Sendable, Equatable {
    /// Guest-physical base of the register window; must lie below 4 GiB (Memory32Fixed).
    package var base: UInt64
    /// Window size in bytes.
    package var size: UInt64
    /// The GSI its edge-triggered, active-high interrupt arrives on.
    package var gsi: UInt32

    package init(base: UInt64, size: UInt64 = 0x1000, gsi: UInt32) {
        self.base = base
        self.size = size
        self.gsi = gsi
    }
}

/// The fixed platform devices the tables describe; the defaults are SwiftVMM's (docs/devices.md, "Platform").
package struct ACPIPlatform: Sendable, Equatable {
    /// COM1's I/O base (8 ports) and ISA IRQ; nil leaves the UART out of the DSDT.
    package var serialPort: UInt16?
    package var serialIRQ: UInt32
    /// Sleep control register (8-bit): `SLP_EN | SLP_TYP << 2` with SLP_TYP ``s5SleepType`` powers off.
    package var sleepControlPort: UInt16
    /// Sleep status register (8-bit).
    package var sleepStatusPort: UInt16
    /// Reset register (8-bit) and the value that resets.
    package var resetPort: UInt16
    package var resetValue: UInt8
    /// The power-button event block: 32-bit status at +0 (bit 0 pressed, write 1 to clear),
    /// 32-bit identification at +4; and the GSI of its edge interrupt.
    package var powerButtonPort: UInt16
    package var powerButtonGSI: UInt32
    /// SLP_TYP for S5 (soft off), in `\_S5`.
    package var s5SleepType: UInt8

    package init(
        serialPort: UInt16? = 0x3F8, serialIRQ: UInt32 = 4, sleepControlPort: UInt16 = 0x600,
        sleepStatusPort: UInt16 = 0x601, resetPort: UInt16 = 0x602, resetValue: UInt8 = 1,
        powerButtonPort: UInt16 = 0x610, powerButtonGSI: UInt32 = 23, s5SleepType: UInt8 = 5
    ) {
        self.serialPort = serialPort
        self.serialIRQ = serialIRQ
        self.sleepControlPort = sleepControlPort
        self.sleepStatusPort = sleepStatusPort
        self.resetPort = resetPort
        self.resetValue = resetValue
        self.powerButtonPort = powerButtonPort
        self.powerButtonGSI = powerButtonGSI
        self.s5SleepType = s5SleepType
    }
}
