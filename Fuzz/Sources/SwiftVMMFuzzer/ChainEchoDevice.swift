@testable import GuestMemory
@_spi(ExitPath) @testable import Virtio

/// A device with two queues that reads every readable byte of a chain and fills its writable
/// part, completing malformed chains with length 0: it drives every queue and chain path.
final class ChainEchoDevice: VirtioDevice, @unchecked Sendable {
    // SAFETY (@unchecked Sendable): the fuzzer is single-threaded; the transport serializes calls.
    private(set) var activation: VirtioActivation?

    var deviceID: UInt32 { 0xfff }
    var queueMaximumSizes: [UInt16] { [256, 8] }
    var deviceFeatures: UInt64 { 0 }
    func readConfiguration(offset: UInt64, size: Int) -> UInt64 { offset }
    func writeConfiguration(offset: UInt64, size: Int, value: UInt64) {}
    func activate(_ activation: VirtioActivation) throws(VirtioDeviceError) { self.activation = activation }
    func reset() { activation = nil }

    func queueNotified(_ index: Int) throws(QueueError) -> QueueWork {
        guard let activation, index < activation.queues.count, let queue = activation.queues[index] else {
            return .done
        }
        var budget = 64
        while budget > 0, let available = try queue.popAvailable() {
            budget -= 1
            var length: UInt32 = 0
            if case .valid(let chain) = available {
                var reader = ChainReader(chain, memory: activation.memory)
                let input = (try? reader.read(count: Int(min(reader.remaining, 4096)))) ?? []
                var writer = ChainWriter(chain, memory: activation.memory)
                let output = Array(input.reversed().prefix(Int(min(writer.remaining, 4096))))
                if (try? writer.write(output)) != nil { length = writer.written }
            }
            try queue.addUsed(head: available.head, length: length)
        }
        if try queue.needsInterrupt() { activation.interrupt.raise() }
        return budget == 0 ? .pending : .done
    }
}
