import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Firecracker-compatible boot timer: a guest write of the byte 123 at offset 0 of its MMIO
/// page (0xd0000000) records "guest ready" with a CLOCK_MONOTONIC timestamp.
/// SPI-public for cross-module inlining on the exit path (see `VCPUFD` in KVM).
@_spi(ExitPath) public final class BootTimer: Sendable {
    package static let defaultAddress: UInt64 = 0xd000_0000
    package static let length: UInt64 = 0x1000
    package static let readyMagic: UInt8 = 123

    private let readyTimestamp = Atomic<UInt64>(0)
    private let onReady: (@Sendable (UInt64) -> Void)?

    /// A boot timer that calls `onReady` with the timestamp, once, on the first ready signal.
    package init(onReady: (@Sendable (UInt64) -> Void)? = nil) {
        self.onReady = onReady
    }

    /// Nanoseconds (CLOCK_MONOTONIC) of the first ready signal, or nil before it.
    package var readyNanoseconds: UInt64? {
        let value = readyTimestamp.load(ordering: .acquiring)
        return value == 0 ? nil : value
    }

    package func write(offset: UInt64, size: Int, value: UInt64) -> MachineRequest? {
        guard offset == 0, size == 1, UInt8(truncatingIfNeeded: value) == Self.readyMagic else { return nil }
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        let now = UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
        if readyTimestamp.compareExchange(expected: 0, desired: now, ordering: .acquiringAndReleasing).exchanged {
            onReady?(now)
        }
        return nil
    }

    package func read(offset: UInt64, size: Int) -> UInt64 { 0 }
}
