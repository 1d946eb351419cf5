@testable import GuestMemory

/// Fuzzer bytes read as a stream of little-endian integers; reads past the end give nil.
struct FuzzInput {
    private var bytes: ArraySlice<UInt8>

    init(_ bytes: [UInt8]) { self.bytes = bytes[...] }

    var isEmpty: Bool { bytes.isEmpty }

    mutating func u8() -> UInt8? { bytes.popFirst() }
    mutating func u16() -> UInt16? {
        guard let low = u8(), let high = u8() else { return nil }
        return UInt16(low) | UInt16(high) << 8
    }
    mutating func u32() -> UInt32? {
        guard let low = u16(), let high = u16() else { return nil }
        return UInt32(low) | UInt32(high) << 16
    }
    mutating func u64() -> UInt64? {
        guard let low = u32(), let high = u32() else { return nil }
        return UInt64(low) | UInt64(high) << 32
    }
    mutating func take(_ count: Int) -> [UInt8] {
        let taken = Array(bytes.prefix(max(0, count)))
        bytes = bytes.dropFirst(taken.count)
        return taken
    }
    mutating func rest() -> [UInt8] { take(bytes.count) }

    /// A guest address: low RAM, just below the 3–4 GiB hole (so buffers run into it), high RAM
    /// above 4 GiB, or anything at all.
    mutating func address() -> UInt64? {
        guard let value = u32() else { return nil }
        switch value >> 30 {
        case 0: return UInt64(value & 0x3f_ffff)
        case 1: return GuestMemoryLayout.mmioHoleStart - UInt64(value & 0xffff)
        case 2: return FuzzMemory.highStart + UInt64(value & 0xf_ffff)
        default: return UInt64(value) << 4
        }
    }
}

/// Guest memory for the fuzzers: RAM from 0 to the 3 GiB hole and 16 MiB above 4 GiB (mapped
/// lazily: only what an input touches costs memory), large enough for 1024-entry indirect tables.
enum FuzzMemory {
    static let highStart: UInt64 = 0x1_0000_0000
    static let totalBytes: UInt64 = GuestMemoryLayout.mmioHoleStart + (16 << 20)

    static func make() throws -> GuestMemory {
        try GuestMemory(totalBytes: totalBytes)
    }
}
