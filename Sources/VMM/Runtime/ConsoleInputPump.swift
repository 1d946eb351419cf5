@_spi(ExitPath) import Devices
import EventLoop
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Feeds console input (a descriptor: a terminal, a pipe, a socket, or the pipe behind
/// `MachineConsole.write`) to the serial port, on the I/O thread. The descriptor is watched
/// while the UART has room; when the guest has not read what it was given, the pump stops
/// watching it and waits for the UART's `roomForInput` signal instead (no polling).
package final class ConsoleInputPump: Sendable {
    /// Bytes read from the descriptor at most per wake-up.
    static let readBytes = 1024

    private struct State {
        var input: EventLoop<IOEvent>.Registration?
        var room: EventLoop<IOEvent>.Registration?
        /// Read but not yet accepted by the UART.
        var pending: [UInt8] = []
    }

    private let descriptor: Int32
    private let serial: Serial16550
    private let loop: EventLoop<IOEvent>
    private let state = Mutex(State())

    /// Whether `descriptor` is something a person or program types into (a terminal, a pipe or
    /// a socket), not /dev/null or a regular file.
    package static func isInteractive(_ descriptor: Int32) -> Bool {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return false }
        switch status.st_mode & S_IFMT {
        case S_IFIFO, S_IFSOCK: return true
        case S_IFCHR: return isatty(descriptor) == 1
        default: return false
        }
    }

    /// Registers `descriptor` and the UART's room signal with `loop` (the I/O thread's).
    init(descriptor: Int32, serial: Serial16550, loop: EventLoop<IOEvent>) throws(EventLoopError) {
        self.descriptor = descriptor
        self.serial = serial
        self.loop = loop
        let input = try loop.register(descriptor: descriptor, token: .consoleInput)
        var room: EventLoop<IOEvent>.Registration?
        if let roomForInput = serial.roomForInput {
            do { room = try loop.register(descriptor: roomForInput.rawValue, token: .consoleInputRoom) } catch {
                loop.unregister(input)
                throw error
            }
        }
        state.withLock { state in
            state.input = input
            state.room = room
        }
    }

    /// Stops watching (idempotent). The descriptor itself belongs to the caller.
    func stop() {
        let (input, room) = state.withLock { state in
            defer {
                state.input = nil
                state.room = nil
            }
            return (state.input, state.room)
        }
        if let input { loop.unregister(input) }
        if let room { loop.unregister(room) }
    }

    /// The descriptor is readable (I/O thread).
    func inputReadable() {
        guard let input = state.withLock({ $0.input }) else { return }
        switch DescriptorIO.read(descriptor, maximumCount: Self.readBytes) {
        case .failure(let error) where error.errno == EAGAIN || error.errno == EINTR:
            return
        case .failure, .success([]):
            // End of input (or a descriptor that failed): nothing more will come.
            loop.unregister(input)
            state.withLock { $0.input = nil }
        case .success(let bytes):
            offer(bytes, input: input)
        }
    }

    /// The guest read from the UART after input was refused (I/O thread).
    func roomAvailable() {
        _ = serial.roomForInput?.drain()
        let (pending, input) = state.withLock { state in
            defer { state.pending = [] }
            return (state.pending, state.input)
        }
        guard !pending.isEmpty else { return }
        offer(pending, input: input)
    }

    /// Gives `bytes` to the UART; what it refuses waits for room, and the descriptor is not
    /// read meanwhile (so a guest that never reads costs nothing and holds at most `readBytes`).
    private func offer(_ bytes: [UInt8], input: EventLoop<IOEvent>.Registration?) {
        let accepted = serial.enqueueInput(bytes)
        let rest = Array(bytes.dropFirst(accepted))
        state.withLock { $0.pending = rest }
        guard let input else { return }
        // A refusal armed the UART's room signal (under its lock), so no read is missed.
        try? loop.modify(input, interest: rest.isEmpty ? .readable : [])
    }
}
