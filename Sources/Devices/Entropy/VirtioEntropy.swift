import GuestMemory
import Synchronization
@_spi(ExitPath) import Virtio

/// virtio-rng (entropy device, ID 4): one request queue; each request's device-writable buffers
/// are filled with bytes from the host's system generator (getrandom(2)). Malformed requests complete with length 0.
package final class VirtioEntropy: VirtioDevice, Sendable {
    package static let deviceTypeID: UInt32 = 4
    package static let queueSize: UInt16 = 256
    /// Largest request filled (bytes); longer buffers get this many.
    package static let maximumRequestBytes: UInt64 = 64 * 1024

    private struct Active: Sendable {
        let queue: SplitQueue
        let memory: GuestMemory
        let interrupt: VirtioInterrupt
    }

    private let active = Mutex<Active?>(nil)
    private let served = Atomic<UInt64>(0)

    package init() {}

    package var deviceID: UInt32 { Self.deviceTypeID }
    package var queueMaximumSizes: [UInt16] { [Self.queueSize] }
    package var deviceFeatures: UInt64 { 0 }

    /// Requests completed so far (valid or not).
    package var requestsCompleted: UInt64 { served.load(ordering: .relaxed) }

    package func readConfiguration(offset: UInt64, size: Int) -> UInt64 { 0 }  // no configuration space
    package func writeConfiguration(offset: UInt64, size: Int, value: UInt64) {}

    package func activate(_ activation: VirtioActivation) throws(VirtioDeviceError) {
        guard let queue = activation.queues.first ?? nil else {
            throw VirtioDeviceError("virtio-rng: the driver did not enable the request queue")
        }
        try activation.events.watchQueues(activation.queues)
        let state = Active(queue: queue, memory: activation.memory, interrupt: activation.interrupt)
        active.withLock { $0 = state }
    }

    package func queueNotified(_ index: Int) throws(QueueError) -> QueueWork {
        guard index == 0, let state = active.withLock({ $0 }) else { return .done }
        var budget = QueueWork.budget
        var emptyRounds = 0
        repeat {
            try state.queue.disableNotifications()
            let before = budget
            try drain(state, budget: &budget)
            if budget == 0 {
                if try state.queue.needsInterrupt() { state.interrupt.raise() }
                return .pending
            }
            // Nothing taken again and again: a driver changing its ring under the device.
            emptyRounds = budget == before ? emptyRounds + 1 : 0
            if emptyRounds >= 2 { break }
        } while try state.queue.enableNotifications()
        if try state.queue.needsInterrupt() { state.interrupt.raise() }
        return .done
    }

    private func drain(_ state: Active, budget: inout Int) throws(QueueError) {
        while budget > 0, let available = try state.queue.popAvailable() {
            budget -= 1
            var length: UInt32 = 0
            if case .valid(let chain) = available {
                var writer = ChainWriter(chain, memory: state.memory)
                let wanted = Int(min(writer.remaining, Self.maximumRequestBytes))
                if (try? writer.write(Self.randomBytes(wanted))) != nil {
                    length = writer.written
                }
            }
            try state.queue.addUsed(head: available.head, length: length)
            served.add(1, ordering: .relaxed)
        }
    }

    package func reset() {
        active.withLock { $0 = nil }
    }

    /// `count` bytes from the system generator (getrandom(2) on Linux).
    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 8)
        while bytes.count < count {
            let word = generator.next()
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: word >> shift)) }
        }
        return Array(bytes.prefix(count))
    }
}
