import GuestMemory
@_spi(ExitPath) import Virtio

/// Where a virtio-blk device's sectors live. Implementations move data straight between the
/// store and guest buffers; every call returns the virtio status for the request.
package protocol BlockBackend: AnyObject, Sendable {
    /// Size in bytes (a multiple of 512; the rest of a file is not exposed).
    var capacityBytes: UInt64 { get }
    /// The guest may not write.
    var isReadOnly: Bool { get }
    /// DISCARD and WRITE_ZEROES are available.
    var supportsDiscard: Bool { get }
    func read(at offset: UInt64, into buffers: [DescriptorBuffer], memory: GuestMemory) -> BlockRequest.Status
    func write(at offset: UInt64, from buffers: [DescriptorBuffer], memory: GuestMemory) -> BlockRequest.Status
    /// Makes every completed write durable before returning (fdatasync).
    func flush() -> BlockRequest.Status
    func discard(at offset: UInt64, length: UInt64) -> BlockRequest.Status
    func writeZeroes(at offset: UInt64, length: UInt64, unmap: Bool) -> BlockRequest.Status
    /// For an engine: the descriptor a read (`writing` false) or write of `buffers` at `offset`
    /// goes to, after the checks `read` and `write` make (range, read-only); nil runs the
    /// request through `read`/`write` instead (which fail it with IOERR where the checks fail).
    /// Backends without a descriptor answer nil for everything.
    func transferDescriptor(offset: UInt64, buffers: [DescriptorBuffer], writing: Bool) -> Int32?
    /// The descriptor FLUSH's fdatasync goes to; nil runs FLUSH through `flush()` instead.
    var flushDescriptor: Int32? { get }
}

extension BlockBackend {
    package func transferDescriptor(offset: UInt64, buffers: [DescriptorBuffer], writing: Bool) -> Int32? { nil }
    package var flushDescriptor: Int32? { nil }
}
