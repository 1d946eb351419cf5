/// QEMU `isa-debug-exit` compatible port: a guest write of `value` ends the run and reports
/// `value` as the guest's status. Under QEMU the process status is `(value << 1) | 1`; SwiftVMM
/// maps it into the guest range of its exit-status table instead.
/// SPI-public for cross-module inlining on the exit path (see `VCPUFD` in KVM).
@_spi(ExitPath) public final class DebugExitPort: Sendable {
    /// The port QEMU's isa-debug-exit uses by default in SwiftVMM's test set-ups.
    package static let defaultPort: UInt16 = 0xf4
    /// Width of the port range (iosize=4 under QEMU).
    package static let length: UInt64 = 4

    package init() {}

    /// A guest write: always a request to end the run with the written value.
    @inlinable @inline(__always)
    package func write(offset: UInt64, size: Int, value: UInt64) -> MachineRequest? {
        .guestExit(status: UInt32(truncatingIfNeeded: value))
    }

    /// A guest read: the port is write-only and reads as all ones, as under QEMU.
    @inlinable @inline(__always)
    package func read(offset: UInt64, size: Int) -> UInt64 { .max }
}
