import Dispatch
import Foundation
@testable import GuestMemory
@_spi(ExitPath) @testable import Virtio

/// The transport driven from three threads at once — two vCPUs writing registers and Status,
/// the I/O thread notifying queues — in an order the input decides (each step runs on its
/// thread; a baton makes the interleaving deterministic, so a crash reproduces). After every
/// step the device is active exactly when Status says DRIVER_OK without DEVICE_NEEDS_RESET.
enum ThreadedTransportFuzz {
    static let workers = (0..<3).map { Worker(name: "fuzz-thread-\($0)") }

    static func run(_ input: inout FuzzInput) {
        guard let memory = try? FuzzMemory.make() else { return }
        let device = ChainEchoDevice()
        let transport = VirtioMMIOTransport(device: device, memory: memory, interrupt: VirtioInterrupt(line: nil))
        let handshake = Handshake(transport: transport)
        var steps = 0
        while let operation = input.u8(), steps < 128 {
            steps += 1
            let worker = workers[Int(operation >> 6) % 3]
            switch operation % 6 {
            case 0:
                guard let value = input.u8() else { return }
                worker.perform { transport.write(offset: 0x70, size: 4, value: UInt64(value)) }
            case 1:
                guard let offset = input.u16(), let value = input.u32() else { return }
                worker.perform { transport.write(offset: UInt64(offset % 0x100) & ~3, size: 4, value: UInt64(value)) }
            case 2:
                guard let queue = input.u8() else { return }
                worker.perform { _ = transport.notify(queue: Int(queue % 2)) }
            case 3:
                guard let width = input.u8() else { return }
                worker.perform { _ = transport.read(offset: 0x70, size: [1, 2, 4][Int(width % 3)]) }
            case 4:
                guard let sizeShift = input.u8(), let table = input.address() else { return }
                worker.perform {
                    handshake.run(
                        features: VirtioFeature.version1, queue: 0, size: UInt32(1) << (sizeShift % 9),
                        table: table & ~15, available: (table &+ 0x1000) & ~1, used: (table &+ 0x2000) & ~3)
                }
            default:
                worker.perform { transport.reset() }
            }
            let status = transport.status
            let running = status & VirtioStatus.driverOK != 0 && status & VirtioStatus.deviceNeedsReset == 0
            precondition(
                (device.activation != nil) == running, "device active \(device.activation != nil), status \(status)")
        }
    }
}

/// A thread that runs one closure at a time, handed over by the fuzzer's thread.
final class Worker: @unchecked Sendable {
    // SAFETY (@unchecked Sendable): `job` is written before `start` is signalled and read after
    // it is waited on; `done` orders the end of the job before the caller goes on.
    private var job: (() -> Void)?
    private let start = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)

    init(name: String) {
        let thread = Thread { [unowned self] in
            while true {
                self.start.wait()
                self.job?()
                self.job = nil
                self.done.signal()
            }
        }
        thread.name = name
        thread.start()
    }

    func perform(_ body: @escaping () -> Void) {
        job = body
        start.signal()
        done.wait()
    }
}
