import GuestMemory
@_spi(ExitPath) import Virtio

#if canImport(Glibc)
    import Glibc
#endif

/// The host side of a network device: something that carries one frame per read or write,
/// each with a 12-byte virtio-net header in front (a tap with IFF_VNET_HDR).
package protocol NetworkBackend: AnyObject, Sendable {
    /// A descriptor the I/O thread watches: readable while frames wait.
    var descriptor: Int32 { get }
    /// The guest negotiated these features: accept the matching offloads on received frames.
    func guestAcceptsOffloads(features: UInt64)
    /// Reads one frame into `buffers`: its whole length (more than the buffers hold when it was
    /// truncated), or the errno (EAGAIN: no frame waiting).
    func receive(into buffers: [DescriptorBuffer], memory: GuestMemory) -> Result<Int, FileIOError>
    /// Writes one frame from `buffers`: the bytes taken, or the errno.
    func send(from buffers: [DescriptorBuffer], memory: GuestMemory) -> Result<Int, FileIOError>
    /// What it is, for messages (such as `tap tap0`).
    var name: String { get }
}

extension NetworkBackend {
    package var name: String { "network backend" }

    /// One readv on `descriptor` straight into the guest's buffers.
    package func receive(into buffers: [DescriptorBuffer], memory: GuestMemory) -> Result<Int, FileIOError> {
        do { return try memory.receive(from: descriptor, into: buffers.map { ($0.address, $0.length) }) } catch {
            return .failure(FileIOError(errno: EFAULT))
        }
    }

    /// One writev on `descriptor` straight from the guest's buffers.
    package func send(from buffers: [DescriptorBuffer], memory: GuestMemory) -> Result<Int, FileIOError> {
        do { return try memory.send(to: descriptor, from: buffers.map { ($0.address, $0.length) }) } catch {
            return .failure(FileIOError(errno: EFAULT))
        }
    }
}

/// Counters of a virtio-net device.
package struct VirtioNetCounters: Sendable, Equatable {
    package var receivedFrames: UInt64 = 0
    package var transmittedFrames: UInt64 = 0
    /// Ethernet bytes of the received frames (without the virtio-net header).
    package var receivedBytes: UInt64 = 0
    /// Ethernet bytes of the transmitted frames (without the virtio-net header).
    package var transmittedBytes: UInt64 = 0
    /// Transmitted frames refused: bad header or length, or the backend would not take them.
    package var droppedTransmit: UInt64 = 0
    /// Received frames that did not fit the guest's buffer, that the backend lost, or whose
    /// header asked for an offload the driver did not negotiate (`ReceiveOffloads`).
    package var droppedReceive: UInt64 = 0
    /// Receive chains the device could not use (malformed, or too small for the header).
    package var unusableReceiveBuffers: UInt64 = 0
    /// Times receiving stopped because the guest had posted no buffers.
    package var receiveStarvations: UInt64 = 0
    /// Whether the backend failed for good (receiving stopped; transmits count as dropped).
    package var backendFailed = false
}
