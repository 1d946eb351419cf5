/// The ACPI-style sleep control and reset registers of SwiftVMM's hardware-reduced platform.
///
/// Ports (base 0x600): +0 sleep control — writing SLP_EN (bit 5) with SLP_TYP (bits 2–4) = 5
/// (the \_S5 value) powers off; +1 sleep status (reads 0); +2 reset — writing 1 resets.
/// SPI-public for cross-module inlining on the exit path (see `VCPUFD` in KVM).
@_spi(ExitPath) public final class PowerControl: Sendable {
    package static let defaultPort: UInt16 = 0x600
    package static let length: UInt64 = 3
    package static let sleepEnable: UInt8 = 1 << 5
    package static let softOffSleepType: UInt8 = 5
    package static let resetValue: UInt8 = 1

    package init() {}

    package func write(offset: UInt64, size: Int, value: UInt64) -> MachineRequest? {
        let byte = UInt8(truncatingIfNeeded: value)
        switch offset {
        case 0:
            let sleepType = (byte >> 2) & 0x7
            return byte & Self.sleepEnable != 0 && sleepType == Self.softOffSleepType ? .powerOff : nil
        case 2:
            return byte == Self.resetValue ? .reset : nil
        default:
            return nil
        }
    }

    package func read(offset: UInt64, size: Int) -> UInt64 { 0 }
}
