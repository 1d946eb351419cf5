/// The little of an i8042 keyboard controller a VMM needs: the status port reads "nothing to
/// read, ready for commands" and the CPU-reset command (0xFE to port 0x64), which Linux uses with
/// `reboot=k` and as a fallback, resets the machine. Only the command/status port 0x64 is
/// modelled (0x61, between it and the data port 0x60, is the in-kernel PIT's speaker port).
/// SPI-public for cross-module inlining on the exit path (see `VCPUFD` in KVM).
@_spi(ExitPath) public final class I8042: Sendable {
    package static let commandPort: UInt16 = 0x64
    package static let length: UInt64 = 1
    static let resetCommand: UInt8 = 0xfe

    package init() {}

    package func write(offset: UInt64, size: Int, value: UInt64) -> MachineRequest? {
        UInt8(truncatingIfNeeded: value) == Self.resetCommand ? .reset : nil
    }

    /// Status reads 0: output and input buffers empty.
    package func read(offset: UInt64, size: Int) -> UInt64 { 0 }
}
