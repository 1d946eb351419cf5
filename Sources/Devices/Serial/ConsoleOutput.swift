import EventLoop
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Where guest console bytes go: a file descriptor (stdout or a file), a handler (an
/// embedder's stream), or nowhere.
///
/// The serial port's transmit path (a vCPU thread) only appends to a bounded buffer and never
/// blocks: when the buffer is full because the sink is slow or stuck, further bytes are dropped
/// and counted. A writer (`drain`, run by the machine's console thread) takes the bytes out in
/// chunks, so a guest printing byte by byte costs one write(2) per chunk, not per byte. A file
/// sink has a size cap; past it, one notice line is written and the rest is dropped.
package final class ConsoleOutput: Sendable {
    /// Bytes buffered between the guest and the sink at most.
    package static let bufferCapacity = 64 * 1024
    /// Bytes one write(2) takes at most (a pipe's atomic size, so a writable pipe never blocks it).
    static let chunkBytes = 4096
    /// The cap on a console file when none is configured (1 GiB).
    package static let defaultFileLimitBytes: UInt64 = 1 << 30

    /// What happened to the guest's console bytes so far.
    package struct Statistics: Sendable, Equatable {
        /// Bytes the guest wrote.
        package var guestBytes: UInt64 = 0
        /// Bytes written to the sink.
        package var writtenBytes: UInt64 = 0
        /// Bytes dropped: the buffer was full, the size cap was reached, or the sink failed.
        package var droppedBytes: UInt64 = 0
    }

    private struct State {
        var pending: [UInt8] = []
        var statistics = Statistics()
        /// The sink reached its cap or failed: everything from now on is dropped.
        var closed = false
    }

    private let descriptor: Int32?
    private let ownsDescriptor: Bool
    /// Takes each chunk instead of a descriptor (never blocks).
    private let handler: (@Sendable ([UInt8]) -> Void)?
    /// Most bytes the sink takes (a file's size cap); nil: no cap.
    package let limitBytes: UInt64?
    private let state = Mutex(State())
    /// Signalled when bytes arrive in an empty buffer (the writer waits on it).
    package let dataAvailable: EventFD?

    /// Discards everything.
    package static let discard = ConsoleOutput(descriptor: nil, owns: false, limitBytes: nil)

    private init(
        descriptor: Int32?, owns: Bool, limitBytes: UInt64?, handler: (@Sendable ([UInt8]) -> Void)? = nil
    ) {
        self.descriptor = descriptor
        self.ownsDescriptor = owns
        self.limitBytes = limitBytes
        self.handler = handler
        dataAvailable = descriptor == nil && handler == nil ? nil : try? EventFD()
    }

    /// Hands the bytes to `handler`, in chunks, on the writer thread.
    package convenience init(handler: @escaping @Sendable ([UInt8]) -> Void) {
        self.init(descriptor: nil, owns: false, limitBytes: nil, handler: handler)
    }

    /// Writes to `descriptor`, which stays the caller's (not closed).
    package convenience init(borrowing descriptor: Int32) {
        self.init(descriptor: descriptor, owns: false, limitBytes: nil)
    }

    /// Writes to this process's standard output (not closed).
    package static var standardOutput: ConsoleOutput { ConsoleOutput(descriptor: 1, owns: false, limitBytes: nil) }

    /// Writes to `descriptor`, which this object closes when released, at most `limitBytes`.
    package convenience init(taking descriptor: Int32, limitBytes: UInt64? = ConsoleOutput.defaultFileLimitBytes) {
        self.init(descriptor: descriptor, owns: true, limitBytes: limitBytes)
    }

    deinit {
        if ownsDescriptor, let descriptor { close(descriptor) }
    }

    /// Whether there is a sink that needs a writer.
    package var needsWriter: Bool { descriptor != nil || handler != nil }

    package var statistics: Statistics { state.withLock { $0.statistics } }

    /// Queues `bytes` for the sink without blocking; what does not fit is dropped and counted.
    package func write(_ bytes: [UInt8]) {
        guard needsWriter else { return }
        let wasEmpty: Bool = state.withLock { state in
            state.statistics.guestBytes &+= UInt64(bytes.count)
            let room = state.closed ? 0 : Self.bufferCapacity - state.pending.count
            let taken = min(room, bytes.count)
            state.statistics.droppedBytes &+= UInt64(bytes.count - taken)
            let wasEmpty = state.pending.isEmpty
            if taken > 0 {
                if state.pending.capacity == 0 { state.pending.reserveCapacity(Self.bufferCapacity) }
                state.pending.append(contentsOf: bytes.prefix(taken))
            }
            return wasEmpty && taken > 0
        }
        if wasEmpty { dataAvailable?.signal() }
    }

    /// Writes what is buffered to the sink, in chunks, waiting at most `timeoutMilliseconds`
    /// for the sink to take each one. Returns false when bytes remain (the sink is slow or
    /// stuck). Runs on one writer thread at a time.
    @discardableResult
    package func drain(timeoutMilliseconds: Int32) -> Bool {
        guard needsWriter else { return true }
        while true {
            let chunk: [UInt8] = state.withLock { state in
                let count = min(Self.chunkBytes, state.pending.count)
                return Array(state.pending.prefix(count))
            }
            guard !chunk.isEmpty else { return true }
            switch deliver(chunk, timeoutMilliseconds: timeoutMilliseconds) {
            case .written(let count):
                state.withLock { state in
                    state.pending.removeFirst(min(count, state.pending.count))
                    state.statistics.writtenBytes &+= UInt64(count)
                }
            case .timedOut:
                return false
            case .failed:
                closeSink(dropping: nil)
                return true
            }
        }
    }

    private enum Delivery { case written(Int), timedOut, failed }

    /// Writes (part of) `chunk`, honouring the size cap; once the cap is reached a notice
    /// is written in place of the rest and the sink is closed.
    private func deliver(_ chunk: [UInt8], timeoutMilliseconds: Int32) -> Delivery {
        guard let descriptor else {
            handler?(chunk)
            return .written(chunk.count)
        }
        var bytes = chunk
        var reachesLimit = false
        if let limitBytes {
            let written = state.withLock { $0.statistics.writtenBytes }
            let room = limitBytes > written ? limitBytes - written : 0
            if UInt64(bytes.count) > room {
                bytes = Array(bytes.prefix(Int(room)))
                reachesLimit = true
            }
        }
        switch DescriptorIO.waitWritable(descriptor, timeoutMilliseconds: timeoutMilliseconds) {
        case .ready: break
        case .timedOut: return .timedOut
        case .failed: return .failed
        }
        guard let count = Self.writeAvailable(descriptor, bytes) else { return .failed }
        if count == 0, !bytes.isEmpty {
            // Writable by poll, yet nothing taken: wait as for a stuck sink instead of spinning.
            usleep(UInt32(min(max(timeoutMilliseconds, 1), 100)) * 1000)
            return .timedOut
        }
        if reachesLimit, count == bytes.count {
            let notice = "\n[swiftvmm: console limit of \(limitBytes ?? 0) bytes reached; further output dropped]\n"
            _ = Self.writeAvailable(descriptor, Array(notice.utf8))
            closeSink(dropping: count)
            return .written(0)
        }
        return .written(count)
    }

    /// Writes as much of `bytes` as the sink takes now (short writes and EINTR retried): the
    /// count, which is short when a non-blocking sink (a console file is opened O_NONBLOCK) is
    /// full (EAGAIN); nil when the sink failed.
    static func writeAvailable(_ descriptor: Int32, _ bytes: [UInt8]) -> Int? {
        var count = 0
        while count < bytes.count {
            switch DescriptorIO.writeSome(descriptor, bytes[count...]) {
            case .success(let written) where written > 0:
                count += written
            case .failure(let error) where error.errno == EINTR:
                continue
            case .failure(let error) where error.errno == EAGAIN || error.errno == EWOULDBLOCK:
                return count
            default:
                return nil
            }
        }
        return count
    }

    /// Stops taking bytes: what is buffered (after the first `written`) counts as dropped.
    private func closeSink(dropping written: Int?) {
        state.withLock { state in
            let delivered = min(written ?? 0, state.pending.count)
            state.statistics.writtenBytes &+= UInt64(delivered)
            state.statistics.droppedBytes &+= UInt64(state.pending.count - delivered)
            state.pending = []
            state.closed = true
        }
    }
}
