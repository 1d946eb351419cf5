/// A guest-physical address.
package struct GuestAddress: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The address as a number.
    package var rawValue: UInt64

    package init(_ rawValue: UInt64) {
        self.rawValue = rawValue
    }

    package static func < (lhs: GuestAddress, rhs: GuestAddress) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The address `offset` bytes further on, or nil on overflow.
    package func advanced(by offset: UInt64) -> GuestAddress? {
        let (sum, overflow) = rawValue.addingReportingOverflow(offset)
        return overflow ? nil : GuestAddress(sum)
    }

    package var description: String { "0x" + String(rawValue, radix: 16) }
}

/// Errors of guest-memory access and set-up.
package enum GuestMemoryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `length` bytes at `address` are not all backed by guest RAM.
    case outOfBounds(address: GuestAddress, length: UInt64)
    /// The host refused the memory (`mmap` failed with `errno`).
    case allocationFailed(bytes: UInt64, errno: Int32)
    /// The host's 2 MiB huge-page pool cannot hold `bytes` more.
    case hugePagesUnavailable(bytes: UInt64, errno: Int32)
    /// Faulting the memory in (prefault) failed: the host is short of memory.
    case prefaultFailed(bytes: UInt64, errno: Int32)
    /// An atomic access at `address` is not aligned to `alignment` bytes.
    case misaligned(address: GuestAddress, alignment: Int)
    /// The requested layout is impossible (zero size, regions overlap, misaligned).
    case invalidLayout(String)

    package var description: String {
        switch self {
        case .outOfBounds(let address, let length):
            return "guest memory access of \(length) bytes at \(address) is outside guest RAM"
        case .allocationFailed(let bytes, let errno):
            return "could not reserve \(bytes / (1 << 20)) MiB of guest memory (errno \(errno));"
                + " lower --memory or free host memory"
        case .hugePagesUnavailable(let bytes, let errno):
            return "could not map \(bytes >> 20) MiB of 2 MiB huge pages (errno \(errno)): the host has "
                + "\(HugePagePool.freePages.map(String.init) ?? "no") free of the \(bytes >> 21) needed; reserve them "
                + "(/proc/sys/vm/nr_hugepages, or hugepages-2Mi in a pod's resources) or use memory_backing anonymous"
        case .prefaultFailed(let bytes, let errno):
            return "could not fault in \(bytes >> 20) MiB of guest memory (errno \(errno)); free host memory,"
                + " lower --memory, or leave prefault off"
        case .misaligned(let address, let alignment):
            return "guest memory access at \(address) is not aligned to \(alignment) bytes"
        case .invalidLayout(let text):
            return "invalid guest memory layout: \(text)"
        }
    }
}
