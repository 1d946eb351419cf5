@_spi(ExitPath) import Devices
import EventLoop
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The guest's serial console as Swift streams, for a machine configured with
/// `ConsoleConfiguration.stream` (`Machine.console`).
///
/// Output: every call to ``output()``, ``bytes()`` or ``lines()`` subscribes anew and sees what
/// the guest prints from then on (subscribe before `start()` to see everything); the streams
/// finish when the machine stops. Each subscriber holds at most ``subscriberBufferChunks``
/// chunks of up to 4 KiB it has not consumed; beyond that, output is dropped for that
/// subscriber and counted in ``droppedBytes`` — a slow reader never slows the guest.
///
/// Input: ``write(_:)-(Collection<UInt8>)`` feeds the guest's UART through a pipe that the machine's I/O thread
/// reads while the guest has room for more.
public final class MachineConsole: Sendable {
    /// Chunks a subscriber may leave unconsumed before output is dropped for it.
    public static let subscriberBufferChunks = 1024

    private struct Subscribers {
        var next = 0
        var continuations: [Int: AsyncStream<[UInt8]>.Continuation] = [:]
        var finished = false
    }

    private let subscribers = Mutex(Subscribers())
    private let dropped = Atomic<UInt64>(0)
    /// The pipe behind `write(_:)`: the I/O thread reads `inputReadEnd`.
    let inputReadEnd: Int32
    private let inputWriteEnd: Int32

    init() throws(MachineError) {
        switch DescriptorIO.makePipe() {
        case .success(let ends):
            inputReadEnd = ends.read
            inputWriteEnd = ends.write
        case .failure(let error):
            throw .setupFailed(
                "console", "cannot make the input pipe", cause: SystemCause(operation: "pipe2", errno: error.errno))
        }
    }

    deinit {
        close(inputReadEnd)
        close(inputWriteEnd)
    }

    /// Bytes of output dropped because a subscriber did not keep up.
    public var droppedBytes: UInt64 { dropped.load(ordering: .relaxed) }

    /// The guest's console output from now on, in chunks as the console thread gathers them.
    public func output() -> AsyncStream<[UInt8]> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: [UInt8].self, bufferingPolicy: .bufferingOldest(Self.subscriberBufferChunks))
        let id: Int? = subscribers.withLock { subscribers in
            guard !subscribers.finished else { return nil }
            subscribers.next += 1
            subscribers.continuations[subscribers.next] = continuation
            return subscribers.next
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.continuations.removeValue(forKey: id) }
        }
        return stream
    }

    /// The guest's console output from now on, byte by byte.
    public func bytes() -> ConsoleBytes { ConsoleBytes(chunks: output()) }

    /// The guest's console output from now on, line by line (without the line ending; a `\r`
    /// before it is dropped too; a last line without an ending comes when the machine stops).
    public func lines() -> ConsoleLines { ConsoleLines(chunks: output()) }

    /// Sends `bytes` to the guest's UART. Waits (without blocking a thread) while the pipe to
    /// the I/O thread is full (the guest has not read its input); throws an error with code
    /// `invalidState` once the machine has stopped, and `cancelled` when the task is cancelled
    /// while waiting.
    public func write(_ bytes: some Collection<UInt8>) async throws(MachineError) {
        var remaining = Array(bytes)[...]
        while !remaining.isEmpty {
            if subscribers.withLock({ $0.finished }) {
                throw MachineError(code: .invalidState, message: "console: the machine has stopped; input is not taken")
            }
            switch DescriptorIO.writeSome(inputWriteEnd, remaining) {
            case .success(let written):
                remaining = remaining.dropFirst(written)
                continue
            case .failure(let error) where error.errno == EAGAIN || error.errno == EINTR:
                break  // the pipe is full: the guest has not read its input yet
            case .failure(let error):
                throw .setupFailed(
                    "console", "writing the guest's input failed",
                    cause: SystemCause(operation: "write(console input pipe)", errno: error.errno))
            }
            do { try await Task.sleep(for: .milliseconds(1)) } catch {
                throw MachineError(code: .cancelled, message: "console: the write was cancelled")
            }
        }
    }

    /// Sends the UTF-8 bytes of `text` to the guest's UART (see `write(_:)` for bytes).
    public func write(_ text: String) async throws(MachineError) {
        try await write(Array(text.utf8))
    }

    /// A chunk from the console thread, for every subscriber.
    func deliver(_ chunk: [UInt8]) {
        subscribers.withLock { subscribers in
            for continuation in subscribers.continuations.values {
                if case .dropped = continuation.yield(chunk) { dropped.add(UInt64(chunk.count), ordering: .relaxed) }
            }
        }
    }

    /// Ends every stream (the machine stopped); later subscriptions end at once.
    func finish() {
        let continuations = subscribers.withLock { subscribers in
            subscribers.finished = true
            defer { subscribers.continuations = [:] }
            return Array(subscribers.continuations.values)
        }
        for continuation in continuations { continuation.finish() }
    }
}

/// A console's output as an `AsyncSequence` of bytes (``MachineConsole/bytes()``).
public struct ConsoleBytes: AsyncSequence, Sendable {
    public typealias Element = UInt8
    let chunks: AsyncStream<[UInt8]>

    /// Reads the chunks and hands out their bytes.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: AsyncStream<[UInt8]>.AsyncIterator
        var buffer: [UInt8] = []
        var index = 0

        /// The next byte; nil once the machine has stopped.
        public mutating func next() async -> UInt8? {
            while index == buffer.count {
                guard let chunk = await chunks.next() else { return nil }
                buffer = chunk
                index = 0
            }
            defer { index += 1 }
            return buffer[index]
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(chunks: chunks.makeAsyncIterator()) }
}

/// A console's output as an `AsyncSequence` of lines (``MachineConsole/lines()``); invalid
/// UTF-8 is repaired with U+FFFD; a line longer than ``maximumLineBytes`` comes in pieces.
public struct ConsoleLines: AsyncSequence, Sendable {
    public typealias Element = String
    /// The longest line delivered whole (a guest that never ends its line costs at most this).
    public static let maximumLineBytes = 64 * 1024
    let chunks: AsyncStream<[UInt8]>

    /// Reads the chunks and splits them at line feeds.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: AsyncStream<[UInt8]>.AsyncIterator
        var partial: [UInt8] = []
        var ready: [String] = []
        var ended = false

        /// The next line; nil once the machine has stopped and the last line was delivered.
        public mutating func next() async -> String? {
            while ready.isEmpty {
                if ended { return nil }
                guard let chunk = await chunks.next() else {
                    ended = true
                    if !partial.isEmpty { ready.append(Self.text(partial)) }
                    partial = []
                    continue
                }
                var start = chunk.startIndex
                for index in chunk.indices where chunk[index] == UInt8(ascii: "\n") {
                    partial += chunk[start..<index]
                    ready.append(Self.text(partial))
                    partial = []
                    start = index + 1
                }
                partial += chunk[start...]
                if partial.count >= ConsoleLines.maximumLineBytes {
                    ready.append(Self.text(partial))
                    partial = []
                }
            }
            return ready.removeFirst()
        }

        private static func text(_ line: [UInt8]) -> String {
            String(decoding: line.last == UInt8(ascii: "\r") ? line.dropLast() : line[...], as: UTF8.self)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(chunks: chunks.makeAsyncIterator()) }
}
