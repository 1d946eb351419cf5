@_spi(ExitPath) @testable import Devices
@testable import GuestMemory
@_spi(ExitPath) @testable import Virtio

#if canImport(Glibc)
    import Glibc
#endif

/// The `blkaio` target's image (removed when the fuzzer exits).
let fuzzScratchImagePath = "/tmp/swiftvmm-fuzz-\(getpid()).img"

/// What a guest driver (and, for virtio-net, the tap) can do, as a script read from the input:
/// register accesses of every width, notifications, descriptors and ring entries written
/// anywhere (across the 3–4 GiB hole), memory changed under the device, resets, handshakes and
/// backend events. Anything must end in an error status, DEVICE_NEEDS_RESET or nothing — never a
/// trap — with bounded work per call (checked here).
enum DeviceScript {
    enum Kind { case echo, block, asyncBlock, network, entropy }

    /// For `asyncBlock`: one io_uring engine for the whole run (each input's device drains it
    /// before it goes) and a 1 MiB scratch image.
    static let sharedEngine = try? IOUringEngine(entries: 64)
    static let scratchImage: String? = {
        let descriptor = open(fuzzScratchImagePath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        atexit { unlink(fuzzScratchImagePath) }
        return ftruncate(descriptor, 1 << 20) == 0 ? fuzzScratchImagePath : nil
    }()

    static func run(_ input: inout FuzzInput, device kind: Kind) {
        guard let memory = try? FuzzMemory.make() else { return }
        let disk = MemoryDisk()
        let tap = ScriptedTap()
        let device: any VirtioDevice
        switch kind {
        case .echo: device = ChainEchoDevice()
        case .block: device = VirtioBlock(backend: disk, serial: "fuzz")
        case .asyncBlock:
            // Requests in flight on a real engine over a real file: completions arrive on the
            // engine's eventfd and are taken by operation 8.
            guard let engine = sharedEngine, let image = scratchImage,
                let file = try? FileBlockBackend(path: image, readOnly: false, directIO: false)
            else { return }
            device = VirtioBlock(backend: file, serial: "fuzz", engine: engine)
        case .network: device = VirtioNet(backend: tap, mac: [2, 0, 0, 0, 0, 1], mtu: 1500)
        case .entropy: device = VirtioEntropy()
        }
        let transport = VirtioMMIOTransport(device: device, memory: memory, interrupt: VirtioInterrupt(line: nil))
        var table: UInt64 = 0
        var available: UInt64 = 0
        var availableIndex: UInt16 = 0
        var size: UInt16 = 1
        var steps = 0
        while let operation = input.u8(), steps < 256 {
            steps += 1
            switch operation % 10 {
            case 0:
                guard let offset = input.u16(), let width = input.u8(), let value = input.u64() else { return }
                transport.write(offset: UInt64(offset % 0x200), size: [1, 2, 4, 8][Int(width % 4)], value: value)
            case 1:
                guard let offset = input.u16(), let width = input.u8() else { return }
                _ = transport.read(offset: UInt64(offset % 0x200), size: [1, 2, 4, 8][Int(width % 4)])
            case 2:
                guard let queue = input.u8() else { return }
                let before = (disk.calls, tap.receiveCalls + tap.sendCalls)
                var rounds = 0
                while transport.notify(queue: Int(queue % 3)) == .pending, rounds < 8 { rounds += 1 }
                // Bounded work: each call handles at most QueueWork.budget chains, each with at
                // most two backend calls (a failed merge is retried request by request).
                precondition(disk.calls - before.0 <= 2 * (rounds + 1) * QueueWork.budget, "disk work unbounded")
                precondition(
                    tap.receiveCalls + tap.sendCalls - before.1 <= 2 * (rounds + 1) * QueueWork.budget,
                    "tap work unbounded")
                // However the driver republishes heads, a queue has at most its size in flight.
                if let block = device as? VirtioBlock {
                    let inFlight = block.inFlight.withLock { $0.chainsInFlight.max() ?? 0 }
                    precondition(inFlight <= Int(VirtioBlock.queueSize), "\(inFlight) chains in flight")
                }
            case 3:
                guard let address = input.address(), let width = input.u8(), let value = input.u64() else { return }
                switch width % 3 {
                case 0: try? memory.store(UInt16(truncatingIfNeeded: value), at: GuestAddress(address))
                case 1: try? memory.store(UInt32(truncatingIfNeeded: value), at: GuestAddress(address))
                default: try? memory.store(value, at: GuestAddress(address))
                }
            case 4:
                transport.write(offset: 0x70, size: 4, value: 0)
            case 5:
                guard let sizeShift = input.u8(), let tableAddress = input.address(),
                    let availableAddress = input.address(), let used = input.address(), let features = input.u8()
                else { return }
                size = UInt16(1) << (sizeShift % 10)
                table = tableAddress & ~15
                available = availableAddress & ~1
                availableIndex = 0
                // Bit 7 asks virtio-net for mergeable receive buffers (VIRTIO_NET_F_MRG_RXBUF).
                let mergeable: UInt64 = kind == .network ? UInt64(features >> 7) << 15 : 0
                Handshake(transport: transport).run(
                    features: VirtioFeature.version1 | UInt64(features & 3) << 28 | mergeable,
                    queue: UInt32(features >> 2) % 2,
                    size: UInt32(size), table: table, available: available, used: used & ~3)
            case 6:
                guard let index = input.u16(), let address = input.address(), let length = input.u32(),
                    let flags = input.u8(), let next = input.u16()
                else { return }
                let base = table &+ 16 &* UInt64(index % max(size, 1))
                try? memory.store(address, at: GuestAddress(base))
                try? memory.store(length % 0x2_0000, at: GuestAddress(base &+ 8))
                try? memory.store(UInt16(flags % 8), at: GuestAddress(base &+ 12))
                try? memory.store(next, at: GuestAddress(base &+ 14))
            case 7:
                guard let head = input.u16() else { return }
                try? memory.store(head, at: GuestAddress(available &+ 4 &+ 2 &* UInt64(availableIndex % max(size, 1))))
                availableIndex &+= 1
                try? memory.store(availableIndex, at: GuestAddress(available &+ 2))
            case 8:
                guard let kind = input.u8(), let length = input.u16() else { return }
                tap.program(kind: kind, length: Int(length))
                let before = tap.receiveCalls
                // The backend is readable: the tap (virtio-net) or the engine's completions.
                transport.sourceReady(0)  // VirtioNet.tapSource, VirtioBlock.completionSource
                precondition(tap.receiveCalls - before <= QueueWork.budget, "receive work unbounded")
            default:
                // A block request header (or range) at an address: realistic inputs for the parser.
                guard let address = input.address(), let type = input.u8(), let sector = input.u64(),
                    let extra = input.u32()
                else { return }
                try? memory.store(UInt32(type % 16), at: GuestAddress(address))
                try? memory.store(UInt32(0), at: GuestAddress(address &+ 4))
                try? memory.store(sector, at: GuestAddress(address &+ 8))
                try? memory.store(extra, at: GuestAddress(address &+ 16))
            }
        }
    }
}

/// Register writes of a driver doing the virtio-mmio handshake for one queue.
struct Handshake {
    let transport: VirtioMMIOTransport

    func write(_ offset: UInt64, _ value: UInt32) { transport.write(offset: offset, size: 4, value: UInt64(value)) }

    func run(features: UInt64, queue: UInt32, size: UInt32, table: UInt64, available: UInt64, used: UInt64) {
        write(0x70, 0)
        write(0x70, 1)
        write(0x70, 3)
        write(0x24, 0)
        write(0x20, UInt32(truncatingIfNeeded: features))
        write(0x24, 1)
        write(0x20, UInt32(truncatingIfNeeded: features >> 32))
        write(0x70, 11)
        for index in [queue, 1 - queue] {
            write(0x30, index)
            write(0x38, size)
            write(0x80, UInt32(truncatingIfNeeded: table))
            write(0x84, UInt32(truncatingIfNeeded: table >> 32))
            write(0x90, UInt32(truncatingIfNeeded: available))
            write(0x94, UInt32(truncatingIfNeeded: available >> 32))
            write(0xa0, UInt32(truncatingIfNeeded: used))
            write(0xa4, UInt32(truncatingIfNeeded: used >> 32))
            write(0x44, 1)
        }
        write(0x70, 15)
    }
}

/// An in-memory 64 KiB disk that counts its calls.
final class MemoryDisk: BlockBackend, @unchecked Sendable {
    // SAFETY (@unchecked Sendable): the fuzzer drives it from one thread at a time.
    var bytes = [UInt8](repeating: 0, count: 64 * 1024)
    var calls = 0

    var capacityBytes: UInt64 { UInt64(bytes.count) }
    var isReadOnly: Bool { false }
    var supportsDiscard: Bool { true }

    private func range(_ offset: UInt64, _ length: UInt64) -> Range<Int>? {
        guard offset <= capacityBytes, length <= capacityBytes - offset else { return nil }
        return Int(offset)..<Int(offset + length)
    }

    func read(at offset: UInt64, into buffers: [DescriptorBuffer], memory: GuestMemory) -> BlockRequest.Status {
        calls += 1
        guard var position = range(offset, buffers.totalLength)?.lowerBound else { return .ioError }
        for buffer in buffers {
            guard (try? memory.write(bytes[position..<position + Int(buffer.length)], at: buffer.address)) != nil
            else { return .ioError }
            position += Int(buffer.length)
        }
        return .ok
    }

    func write(at offset: UInt64, from buffers: [DescriptorBuffer], memory: GuestMemory) -> BlockRequest.Status {
        calls += 1
        guard var position = range(offset, buffers.totalLength)?.lowerBound else { return .ioError }
        for buffer in buffers {
            guard let data = try? memory.readBytes(at: buffer.address, count: Int(buffer.length)) else {
                return .ioError
            }
            bytes.replaceSubrange(position..<position + data.count, with: data)
            position += data.count
        }
        return .ok
    }

    func flush() -> BlockRequest.Status {
        calls += 1
        return .ok
    }

    func discard(at offset: UInt64, length: UInt64) -> BlockRequest.Status {
        calls += 1
        return range(offset, length) == nil ? .ioError : .ok
    }

    func writeZeroes(at offset: UInt64, length: UInt64, unmap: Bool) -> BlockRequest.Status {
        calls += 1
        guard let range = range(offset, length) else { return .ioError }
        bytes.replaceSubrange(range, with: repeatElement(0, count: range.count))
        return .ok
    }
}

/// A tap double: each receive returns what the script programmed (EAGAIN, a per-frame error,
/// a dead tap, a short frame, a frame longer than the buffers) and then EAGAIN.
final class ScriptedTap: NetworkBackend, @unchecked Sendable {
    // SAFETY (@unchecked Sendable): the fuzzer drives it from one thread at a time.
    private var results: [(kind: UInt8, length: Int)] = []
    var receiveCalls = 0
    var sendCalls = 0

    var descriptor: Int32 { -1 }
    func guestAcceptsOffloads(features: UInt64) {}

    /// Queues `count` (1–8) results of one kind for the next receives.
    func program(kind: UInt8, length: Int) {
        for _ in 0..<Int(kind >> 5) + 1 { results.append((kind % 8, length)) }
    }

    func receive(into buffers: [DescriptorBuffer], memory: GuestMemory) -> Result<Int, FileIOError> {
        receiveCalls += 1
        guard !results.isEmpty else { return .failure(FileIOError(errno: EAGAIN)) }
        let (kind, length) = results.removeFirst()
        switch kind {
        case 0: return .failure(FileIOError(errno: EAGAIN))
        case 1: return .failure(FileIOError(errno: EMSGSIZE))
        case 2: return .failure(FileIOError(errno: EFAULT))
        case 3: return .failure(FileIOError(errno: EBADFD))
        default:
            // A frame of `length` bytes: what fits is written, the whole length is reported. Its
            // virtio-net header comes from the length's bits — the checksum flags, a GSO type,
            // csum_start and csum_offset anywhere — for the receive offload rules; 0x5a follows.
            let bits = UInt64(truncatingIfNeeded: length) &* 0x9E37_79B9_7F4A_7C15
            var header = [UInt8](repeating: 0, count: 12)
            header[0] = UInt8(truncatingIfNeeded: bits & 3)
            header[1] = (bits >> 2) & 7 == 0 ? UInt8(truncatingIfNeeded: bits >> 5) : 0
            for index in 0..<6 { header[6 + index] = UInt8(truncatingIfNeeded: bits >> (8 + 8 * UInt64(index))) }
            var remaining = length
            var written = 0
            for buffer in buffers where remaining > 0 {
                let count = min(Int(buffer.length), remaining)
                var bytes = [UInt8](repeating: 0x5a, count: count)
                for index in 0..<count where written + index < header.count { bytes[index] = header[written + index] }
                try? memory.write(bytes, at: buffer.address)
                remaining -= count
                written += count
            }
            return .success(kind == 7 ? length &* 4 : length)
        }
    }

    func send(from buffers: [DescriptorBuffer], memory: GuestMemory) -> Result<Int, FileIOError> {
        sendCalls += 1
        switch sendCalls % 4 {
        case 0: return .failure(FileIOError(errno: EAGAIN))
        case 1: return .success(Int(buffers.totalLength / 2))
        default: return .success(Int(buffers.totalLength))
        }
    }
}
