import Atomics

/// Accesses to memory shared with a running guest that need ordering: virtqueue ring indices
/// are read with acquire and written with release semantics, and EVENT_IDX needs a full fence
/// between publishing the used index and reading `used_event`.
extension GuestMemory {
    /// Reads the 16-bit value at `address` (2-byte aligned) with acquire ordering.
    package func loadAcquire(_ type: UInt16.Type, at address: GuestAddress) throws(GuestMemoryError) -> UInt16 {
        let pointer = try alignedPointer(address, size: 2)
        // SAFETY: alignedPointer checked bounds and 2-byte alignment; the memory stays mapped
        // while `self` lives, and UnsafeAtomic only reads it atomically.
        let atomic = UnsafeAtomic<UInt16>(at: pointer.assumingMemoryBound(to: UInt16.AtomicRepresentation.self))
        return UInt16(littleEndian: atomic.load(ordering: .acquiring))
    }

    /// Writes the 16-bit `value` at `address` (2-byte aligned) with release ordering.
    package func storeRelease(_ value: UInt16, at address: GuestAddress) throws(GuestMemoryError) {
        let pointer = try alignedPointer(address, size: 2)
        // SAFETY: as in loadAcquire.
        let atomic = UnsafeAtomic<UInt16>(at: pointer.assumingMemoryBound(to: UInt16.AtomicRepresentation.self))
        atomic.store(value.littleEndian, ordering: .releasing)
    }

    /// A full (sequentially consistent) memory fence.
    package static func fullFence() {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
    }
}
