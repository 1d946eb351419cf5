import CKVM

/// One CPUID leaf/subleaf as KVM exchanges it (`struct kvm_cpuid_entry2`).
package struct CPUIDEntry: Sendable, Equatable, CustomStringConvertible {
    package var function: UInt32
    package var index: UInt32
    package var flags: UInt32
    package var eax: UInt32
    package var ebx: UInt32
    package var ecx: UInt32
    package var edx: UInt32

    package init(
        function: UInt32, index: UInt32 = 0, flags: UInt32 = 0,
        eax: UInt32 = 0, ebx: UInt32 = 0, ecx: UInt32 = 0, edx: UInt32 = 0
    ) {
        self.function = function
        self.index = index
        self.flags = flags
        self.eax = eax
        self.ebx = ebx
        self.ecx = ecx
        self.edx = edx
    }

    /// Whether the subleaf index selects this entry (KVM_CPUID_FLAG_SIGNIFCANT_INDEX).
    package var indexIsSignificant: Bool { flags & CKVM_CPUID_FLAG_SIGNIFCANT_INDEX != 0 }

    package var description: String {
        func hex(_ value: UInt32) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
        }
        return "\(hex(function)).\(index): eax=\(hex(eax)) ebx=\(hex(ebx)) ecx=\(hex(ecx)) edx=\(hex(edx))"
    }
}

/// The variable-length `struct kvm_cpuid2` buffer the CPUID ioctls take.
struct CPUIDBuffer {
    private static let headerSize = MemoryLayout<kvm_cpuid2>.size
    private static let entrySize = MemoryLayout<kvm_cpuid_entry2>.stride
    private var storage: [UInt64]
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        let bytes = Self.headerSize + capacity * Self.entrySize
        storage = [UInt64](repeating: 0, count: (bytes + 7) / 8)
        withHeader { $0.pointee.nent = UInt32(capacity) }
    }

    init(entries: [CPUIDEntry]) {
        self.init(capacity: entries.count)
        withHeader { header in
            // SAFETY: the storage holds `capacity` entries after the header (see init(capacity:)),
            // and `entries.count == capacity`.
            let first = UnsafeMutableRawPointer(header).advanced(by: Self.headerSize)
                .assumingMemoryBound(to: kvm_cpuid_entry2.self)
            for (offset, entry) in entries.enumerated() {
                first[offset] = kvm_cpuid_entry2(
                    function: entry.function, index: entry.index, flags: entry.flags,
                    eax: entry.eax, ebx: entry.ebx, ecx: entry.ecx, edx: entry.edx, padding: (0, 0, 0))
            }
        }
    }

    /// Calls `body` with the `kvm_cpuid2` header at the start of the buffer.
    mutating func withHeader<Result>(_ body: (UnsafeMutablePointer<kvm_cpuid2>) -> Result) -> Result {
        storage.withUnsafeMutableBytes { raw in
            // SAFETY: the buffer is 8-byte aligned, large enough for the header and `capacity`
            // entries, and lives for the duration of the call.
            body(raw.baseAddress!.assumingMemoryBound(to: kvm_cpuid2.self))
        }
    }

    /// The entries KVM filled in (at most `capacity`).
    var entries: [CPUIDEntry] {
        storage.withUnsafeBytes { raw in
            // SAFETY: as in withHeader; `nent` is clamped to the buffer's capacity.
            let header = raw.baseAddress!.assumingMemoryBound(to: kvm_cpuid2.self)
            let count = min(Int(header.pointee.nent), capacity)
            let first = raw.baseAddress!.advanced(by: Self.headerSize).assumingMemoryBound(to: kvm_cpuid_entry2.self)
            return (0..<count).map { offset in
                let raw = first[offset]
                return CPUIDEntry(
                    function: raw.function, index: raw.index, flags: raw.flags,
                    eax: raw.eax, ebx: raw.ebx, ecx: raw.ecx, edx: raw.edx)
            }
        }
    }
}
