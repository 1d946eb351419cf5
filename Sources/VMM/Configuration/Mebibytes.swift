/// Sizes a configuration gives in MiB (`memory_mib`, `size_mib`, `limit_mib`, a launcher's
/// overhead), in bytes, without a trap: a user can write any integer there, and `UInt64(-1)`
/// or a shift past 64 bits is a crash or a silently wrong size.
package enum Mebibytes {
    /// `mib` MiB in bytes; nil when `mib` is negative or the bytes do not fit in 64 bits.
    package static func bytes(_ mib: Int) -> UInt64? {
        guard let value = UInt64(exactly: mib) else { return nil }
        return bytes(value)
    }

    /// `mib` MiB in bytes; nil when the bytes do not fit in 64 bits.
    package static func bytes(_ mib: UInt64) -> UInt64? {
        let (value, overflow) = mib.multipliedReportingOverflow(by: 1 << 20)
        return overflow ? nil : value
    }
}
