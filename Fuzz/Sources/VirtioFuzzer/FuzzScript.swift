import GuestMemory
import Virtio

/// Turns fuzzer bytes into what a guest could do: the first part becomes guest memory (rings,
/// descriptors, buffers), the rest a script of register accesses, notifications, memory pokes
/// and resets against a virtio-mmio transport with a device that reads and writes every chain.
struct FuzzScript {
    static let memoryBytes: UInt64 = 64 * 1024

    private var bytes: ArraySlice<UInt8>

    init(_ input: [UInt8]) {
        bytes = input[...]
    }

    private mutating func next8() -> UInt8? { bytes.popFirst() }
    private mutating func next16() -> UInt16? {
        guard let low = next8(), let high = next8() else { return nil }
        return UInt16(low) | UInt16(high) << 8
    }
    private mutating func next32() -> UInt32? {
        guard let low = next16(), let high = next16() else { return nil }
        return UInt32(low) | UInt32(high) << 16
    }

    /// Runs the whole input. Anything the guest can do must end in an error status, a
    /// DEVICE_NEEDS_RESET or nothing at all — never a trap.
    mutating func run() throws {
        let memory = try GuestMemory(
            layout: GuestMemoryLayout(ranges: [.init(start: GuestAddress(0), size: Self.memoryBytes)]))
        // Guest memory image: a length byte (in 256-byte units) then that many bytes.
        let imageLength = Int(next8() ?? 0) * 256
        let image = Array(bytes.prefix(imageLength))
        bytes = bytes.dropFirst(imageLength)
        try memory.write(image, at: GuestAddress(0))

        let device = ChainEchoDevice()
        let transport = VirtioMMIOTransport(device: device, memory: memory, interrupt: VirtioInterrupt(line: nil))
        var steps = 0
        while let operation = next8(), steps < 512 {
            steps += 1
            switch operation % 7 {
            case 0:  // register write
                guard let offset = next16(), let width = next8(), let value = next32() else { return }
                transport.write(
                    offset: UInt64(offset % 0x200), size: [1, 2, 4, 8][Int(width % 4)], value: UInt64(value))
            case 1:  // register read
                guard let offset = next16(), let width = next8() else { return }
                _ = transport.read(offset: UInt64(offset % 0x200), size: [1, 2, 4, 8][Int(width % 4)])
            case 2:  // queue notification (as the ioeventfd would deliver it)
                guard let queue = next8() else { return }
                transport.notify(queue: Int(queue % 4))
            case 3:  // the guest changes memory while the device runs
                guard let address = next16(), let value = next16() else { return }
                try? memory.store(value, at: GuestAddress(UInt64(address) % (Self.memoryBytes - 1)))
            case 4:
                transport.reset()
            case 5:  // a well-formed handshake with queue 0 where the input says, to reach deep states
                guard let size = next8(), let table = next16(), let available = next16(), let used = next16(),
                    let features = next8()
                else { return }
                let driver = Driver(transport: transport)
                driver.handshake(
                    features: VirtioFeature.version1 | UInt64(features & 3) << 28,
                    queueSize: UInt32(1) << (size % 9), table: UInt64(table), available: UInt64(available),
                    used: UInt64(used))
            default:  // configuration change
                transport.configurationChanged()
            }
        }
    }
}

/// Register writes of a driver doing the virtio-mmio handshake.
struct Driver {
    let transport: VirtioMMIOTransport

    func write(_ offset: UInt64, _ value: UInt32) { transport.write(offset: offset, size: 4, value: UInt64(value)) }

    func handshake(features: UInt64, queueSize: UInt32, table: UInt64, available: UInt64, used: UInt64) {
        write(0x70, 0)
        write(0x70, 1)
        write(0x70, 3)
        write(0x24, 0)
        write(0x20, UInt32(truncatingIfNeeded: features))
        write(0x24, 1)
        write(0x20, UInt32(truncatingIfNeeded: features >> 32))
        write(0x70, 11)
        write(0x30, 0)
        write(0x38, queueSize)
        write(0x80, UInt32(table))
        write(0x90, UInt32(available))
        write(0xa0, UInt32(used))
        write(0x44, 1)
        write(0x70, 15)
    }
}

/// A device with two queues that reads every readable byte of a chain and fills its writable
/// part, completing malformed chains with length 0: it drives every queue and chain path.
final class ChainEchoDevice: VirtioDevice, @unchecked Sendable {
    // SAFETY (@unchecked Sendable): the fuzzer is single-threaded; the transport serializes calls.
    private var activation: VirtioActivation?

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
