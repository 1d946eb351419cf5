import EventLoop
import GuestMemory
import Synchronization

/// Virtio feature bits the transport and queues understand (virtio 1.x, 6).
package enum VirtioFeature {
    package static let ringIndirectDescriptors: UInt64 = 1 << 28
    package static let ringEventIndex: UInt64 = 1 << 29
    package static let version1: UInt64 = 1 << 32
    /// What every SwiftVMM device offers besides its own bits.
    package static let transportFeatures: UInt64 = version1 | ringEventIndex | ringIndirectDescriptors
}

/// Device status bits (virtio 1.x, 2.1).
package enum VirtioStatus {
    package static let acknowledge: UInt32 = 1
    package static let driver: UInt32 = 2
    package static let driverOK: UInt32 = 4
    package static let featuresOK: UInt32 = 8
    package static let deviceNeedsReset: UInt32 = 0x40
    package static let failed: UInt32 = 0x80
}

/// How a device tells its driver that buffers were used (or its configuration changed): sets
/// the transport's interrupt status and raises the interrupt line (an irqfd).
package final class VirtioInterrupt: Sendable {
    package static let usedBuffer: UInt32 = 1
    package static let configurationChange: UInt32 = 2

    let status = Atomic<UInt32>(0)
    private let line: EventFD?

    package init(line: EventFD?) {
        self.line = line
    }

    /// Sets `reason` in the interrupt status and pulses the line.
    package func raise(_ reason: UInt32 = VirtioInterrupt.usedBuffer) {
        status.bitwiseOr(reason, ordering: .sequentiallyConsistent)
        line?.signal()
    }

    /// The InterruptStatus register.
    package var pending: UInt32 { status.load(ordering: .sequentiallyConsistent) }

    func acknowledge(_ bits: UInt32) {
        status.bitwiseAnd(~bits, ordering: .sequentiallyConsistent)
    }

    func clear() {
        status.store(0, ordering: .sequentiallyConsistent)
    }
}

/// What a virtio device gets when the driver sets DRIVER_OK.
package struct VirtioActivation: Sendable {
    /// One queue per `queueMaximumSizes` entry; nil for a queue the driver did not enable.
    package let queues: [SplitQueue?]
    package let memory: GuestMemory
    /// The features both sides agreed on.
    package let features: UInt64
    package let interrupt: VirtioInterrupt
    /// Where the device registers its queue notifications and its own sources for this
    /// activation (every watch ends when it resets).
    package let events: DeviceEvents

    package init(
        queues: [SplitQueue?], memory: GuestMemory, features: UInt64, interrupt: VirtioInterrupt,
        events: DeviceEvents = .unwatched()
    ) {
        self.queues = queues
        self.memory = memory
        self.features = features
        self.interrupt = interrupt
        self.events = events
    }
}

/// A virtio device behind a transport: its identity, queues, features and configuration space,
/// and what it does with its queues. The transport knows nothing else about it.
///
/// `readConfiguration`/`writeConfiguration` run on vCPU threads; `activate`, `queueNotified`
/// and `reset` are serialized by the transport.
package protocol VirtioDevice: AnyObject, Sendable {
    /// The virtio device ID (e.g. 2 block, 1 network, 4 entropy).
    var deviceID: UInt32 { get }
    /// Maximum size of each queue (their count is the number of queues).
    var queueMaximumSizes: [UInt16] { get }
    /// Device-specific feature bits offered (the transport adds `VirtioFeature.transportFeatures`).
    var deviceFeatures: UInt64 { get }
    /// Reads `size` (1, 2, 4 or 8) bytes of configuration space at `offset`.
    func readConfiguration(offset: UInt64, size: Int) -> UInt64
    /// Writes configuration space.
    func writeConfiguration(offset: UInt64, size: Int, value: UInt64)
    /// The driver set DRIVER_OK: the device registers what it wants to hear about through
    /// `activation.events` (its queues' notifications, its own sources). Throwing marks the
    /// device as needing a reset.
    func activate(_ activation: VirtioActivation) throws(VirtioDeviceError)
    /// The driver notified queue `index` (on the I/O thread). The device does a bounded amount
    /// of work (`QueueWork.budget`) and answers `.pending` when it stopped with more waiting:
    /// the owner then calls again after other events, so no guest can hold the I/O thread.
    /// Throwing a queue-breaking error marks the device as needing a reset.
    func queueNotified(_ index: Int) throws(QueueError) -> QueueWork
    /// One of the device's own sources (registered as `.source(source)`) is ready (on the I/O
    /// thread, serialized like `queueNotified`, only while active).
    func sourceReady(_ source: Int) throws(QueueError)
    /// The driver reset the device: drop the queues and go back to the initial state (the
    /// activation's watches end with it).
    func reset()
}

extension VirtioDevice {
    /// A device without sources of its own.
    package func sourceReady(_ source: Int) throws(QueueError) {}
}

/// What a device left after handling a queue notification.
package enum QueueWork: Sendable, Equatable {
    /// Everything the driver made available was handled.
    case done
    /// The device used its budget and more requests wait: call `queueNotified` again.
    case pending

    /// Chains one notification handles at most before yielding the I/O thread.
    package static let budget = 64
}

/// A device could not start with what the driver negotiated.
package struct VirtioDeviceError: Error, Equatable, Sendable, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

/// Reading a device's configuration space kept as little-endian bytes.
package enum VirtioConfigurationSpace {
    /// `size` bytes at `offset` of `bytes`, little-endian; bytes past the end read as zero.
    package static func read(_ bytes: [UInt8], offset: UInt64, size: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in 0..<min(max(size, 0), 8) {
            let position = Int(clamping: offset) &+ index
            if position >= 0, position < bytes.count { value |= UInt64(bytes[position]) << (8 * index) }
        }
        return value
    }
}
