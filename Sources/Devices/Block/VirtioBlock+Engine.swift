import EventLoop
import GuestMemory
@_spi(ExitPath) import Virtio

#if canImport(Glibc)
    import Glibc
#endif

/// The asynchronous half of virtio-blk: reads, writes and flushes handed to the engine, and
/// their completions (on the I/O thread, when the engine's eventfd is readable).
extension VirtioBlock {
    /// Completions handled per wake-up of the I/O thread (more wait for the next turn).
    static let completionBudget = 256

    package var backendDescriptor: Int32? { engine?.completionDescriptor }
    package var backendName: String { "the \(engineKind.rawValue) block engine" }

    /// Completions always matter: the engine's eventfd is watched from the start.
    package func setBackendInterestHandler(_ handler: @escaping @Sendable (BackendInterest) -> Void) {
        if engine != nil { handler(.receive) }
    }

    /// Starts the engine's workers (with the machine).
    package func startEngine() throws(BlockEngineError) {
        try engine?.start()
    }

    /// Hands `batch` (taken from queue `index`, in order) to the engine: adjacent reads or
    /// writes as one operation, FLUSH once every earlier write has completed; other requests
    /// (GET_ID, DISCARD, WRITE_ZEROES, bad ones) run at once.
    func submit(
        _ batch: [PendingRequest], queue: SplitQueue, index: Int, memory: GuestMemory, backend: any BlockBackend,
        engine: any BlockEngine
    ) throws(QueueError) {
        var position = 0
        while position < batch.count {
            let run = Self.mergeableRun(batch, from: position)
            position += run.count
            let first = run[run.startIndex].request
            let started = MonotonicClock.nanoseconds()
            switch first.operation {
            case .read, .write:
                let request = run.count > 1 ? Self.merged(run.map(\.request)) ?? first : first
                guard let transfer = request.transfer, let buffers = request.dataBuffers,
                    let offset = Self.byteOffset(transfer.sector),
                    let descriptor = backend.transferDescriptor(
                        offset: offset, buffers: buffers, writing: transfer.isWrite),
                    let vectors = try? HostIOVectors(
                        memory: memory, buffers: buffers.map { (address: $0.address, length: $0.length) })
                else {
                    // Out of range, read-only or outside guest memory: each request on its own,
                    // for its exact status.
                    let statuses = run.map { execute($0.request, on: backend, memory: memory) }
                    try finish(run, statuses: statuses, queue: queue, memory: memory, startedNanoseconds: started)
                    continue
                }
                let kind: BlockEngineOperation.Kind = transfer.isWrite ? .write : .read
                let tag = inFlight.withLock { table in
                    let tag = table.makeTag()
                    table.add(
                        InFlightRequests.Entry(
                            queue: index, requests: Array(run), kind: kind, expectedBytes: vectors.totalBytes,
                            vectors: vectors, backend: backend, startedNanoseconds: started),
                        tag: tag)
                    return tag
                }
                hand(
                    BlockEngineOperation(
                        kind: kind, descriptor: descriptor, offset: offset, vectors: vectors, tag: tag),
                    to: engine)
            case .flush:
                guard let descriptor = backend.flushDescriptor else {
                    try finish(run, statuses: [.ok], queue: queue, memory: memory, startedNanoseconds: started)
                    continue
                }
                let pending = run[run.startIndex]
                let startNow: UInt64? = inFlight.withLock { table in
                    let tag = table.makeTag()
                    guard !table.hasWrite(before: tag) else {
                        table.wait(
                            InFlightRequests.WaitingFlush(
                                tag: tag, queue: index, request: pending, startedNanoseconds: started))
                        return nil
                    }
                    table.add(flushEntry(pending, queue: index, backend: backend, started: started), tag: tag)
                    return tag
                }
                if let tag = startNow {
                    hand(
                        BlockEngineOperation(
                            kind: .datasync, descriptor: descriptor, offset: 0, vectors: nil, tag: tag),
                        to: engine)
                }
            default:
                let statuses = run.map { execute($0.request, on: backend, memory: memory) }
                try finish(run, statuses: statuses, queue: queue, memory: memory, startedNanoseconds: started)
            }
        }
        engine.submit()
    }

    private func flushEntry(_ pending: PendingRequest, queue: Int, backend: any BlockBackend, started: UInt64)
        -> InFlightRequests.Entry
    {
        InFlightRequests.Entry(
            queue: queue, requests: [pending], kind: .datasync, expectedBytes: 0, vectors: nil, backend: backend,
            startedNanoseconds: started)
    }

    /// Queues `operation`, submitting what is queued first when the submission queue is full.
    private func hand(_ operation: BlockEngineOperation, to engine: any BlockEngine) {
        if engine.enqueue(operation) { return }
        engine.submit()
        if engine.enqueue(operation) { return }
        // Still refused: complete it as failed rather than lose it (the next reap finds it).
        _ = inFlight.withLock { $0.remove(operation.tag) }.map { entry in
            orphans.withLock { $0.append((entry, -Int(EAGAIN))) }
        }
        engine.wakeAgain()
    }

    /// The engine's eventfd is readable: complete what finished (bounded per turn), start the
    /// flushes whose earlier writes are done, and let throttled queues take requests again.
    package func backendReadable() throws(QueueError) {
        guard let engine else { return }
        engine.acknowledgeWakeUp()
        let activation = active.withLock { $0 }
        let completions = engine.reap(maximum: Self.completionBudget)
        var failure: QueueError?
        do throws(QueueError) {
            try complete(completions, activation: activation)
        } catch {
            failure = error
        }
        startReadyFlushes(engine)
        if completions.count == Self.completionBudget { engine.wakeAgain() }
        if let failure { throw failure }
        guard let activation else { return }
        let resume = inFlight.withLock { table in
            defer { table.throttled = [] }
            return table.throttled.sorted()
        }
        for index in resume where activation.queues.indices.contains(index) {
            guard let queue = activation.queues[index] else { continue }
            if try process(queue, index: index, activation: activation) == .pending {
                inFlight.withLock { _ = $0.throttled.insert(index) }
                engine.wakeAgain()
            }
        }
    }

    /// The transport is not active (a broken queue waits for the driver's reset): completions
    /// are taken and dropped, so that the eventfd does not stay readable.
    package func backendReadableWhileInactive() {
        guard let engine else { return }
        engine.acknowledgeWakeUp()
        let completions = engine.reap(maximum: Self.completionBudget)
        try? complete(completions, activation: nil)
        if completions.count == Self.completionBudget { engine.wakeAgain() }
    }

    /// Completes each finished operation's requests (or drops them without `activation`). Every
    /// completion leaves the in-flight table even when a queue breaks on the way.
    private func complete(_ completions: [BlockEngineCompletion], activation: VirtioActivation?) throws(QueueError) {
        var finished = completions.compactMap { completion in
            inFlight.withLock { $0.remove(completion.tag) }.map { ($0, completion.result) }
        }
        finished += orphans.withLock { orphans in
            defer { orphans = [] }
            return orphans
        }
        guard let activation else { return }
        var touched = Set<Int>()
        var failure: QueueError?
        for (entry, result) in finished {
            guard activation.queues.indices.contains(entry.queue), let queue = activation.queues[entry.queue] else {
                continue
            }
            let statuses = statuses(of: entry, result: result, memory: activation.memory)
            do throws(QueueError) {
                try finish(
                    entry.requests, statuses: statuses, queue: queue, memory: activation.memory,
                    startedNanoseconds: entry.startedNanoseconds)
                touched.insert(entry.queue)
            } catch {
                failure = failure ?? error
            }
        }
        for index in touched.sorted() {
            if try activation.queues[index]?.needsInterrupt() == true { activation.interrupt.raise() }
        }
        if let failure { throw failure }
    }

    /// The statuses of an operation's requests: all OK when it moved every byte; otherwise
    /// (an error, a short transfer) each request runs again on its own, synchronously, for its
    /// exact status (EIO or ENOSPC on the host end as IOERR).
    private func statuses(of entry: InFlightRequests.Entry, result: Int, memory: GuestMemory) -> [BlockRequest.Status] {
        switch entry.kind {
        case .datasync:
            return Array(repeating: result == 0 ? .ok : .ioError, count: entry.requests.count)
        case .read, .write:
            if result >= 0, UInt64(result) == entry.expectedBytes {
                return Array(repeating: .ok, count: entry.requests.count)
            }
            return entry.requests.map { execute($0.request, on: entry.backend, memory: memory) }
        }
    }

    /// Starts every waiting FLUSH whose earlier writes have all completed.
    private func startReadyFlushes(_ engine: any BlockEngine) {
        let ready = inFlight.withLock { table in
            table.takeReadyFlushes().map { flush in
                let backend = self.backend
                table.add(
                    flushEntry(flush.request, queue: flush.queue, backend: backend, started: flush.startedNanoseconds),
                    tag: flush.tag)
                return (flush.tag, backend.flushDescriptor)
            }
        }
        guard !ready.isEmpty else { return }
        for (tag, descriptor) in ready {
            guard let descriptor else {
                _ = inFlight.withLock { $0.remove(tag) }.map { entry in orphans.withLock { $0.append((entry, 0)) } }
                engine.wakeAgain()
                continue
            }
            hand(
                BlockEngineOperation(kind: .datasync, descriptor: descriptor, offset: 0, vectors: nil, tag: tag),
                to: engine)
        }
        engine.submit()
    }

    /// Waits until the engine has nothing in flight: for a reset or the device's end
    /// (`completing` false: completions and waiting flushes are dropped, the driver gave the
    /// buffers up, and what was queued but not started is withdrawn — never started, and never
    /// submitted from here: a reset runs on a vCPU thread, whose filter forbids io_uring_enter),
    /// or before the image is replaced or the machine stops (completed to the guest as usual;
    /// what is queued is submitted). Polls every 50 µs: a vCPU thread may not block in the
    /// kernel on anything but sleeps.
    func drainEngine(completing: Bool) {
        guard let engine else { return }
        if !completing {
            inFlight.withLock { table in
                table.dropWaitingFlushes()
                // Only a device with operations of its own in flight withdraws: the engine
                // outlives it (a reboot in place hands it to the next machine's device).
                guard !table.isEmpty else { return }
                for tag in engine.withdrawQueued() { _ = table.remove(tag) }
            }
        }
        let activation = completing ? active.withLock { $0 } : nil
        while !inFlight.withLock({ $0.isEmpty }) {
            if completing { engine.submit() }  // anything a failed submit left queued
            let completions = engine.reap(maximum: Self.completionBudget)
            try? complete(completions, activation: activation)
            if completing { startReadyFlushes(engine) }
            if completions.isEmpty {
                var pause = timespec(tv_sec: 0, tv_nsec: 50_000)
                nanosleep(&pause, nil)
            }
        }
        try? complete([], activation: activation)  // operations the engine refused
        inFlight.withLock { $0.throttled = [] }
    }

    /// Finishes every operation in flight, completing it to the guest (the machine is stopping:
    /// what the guest wrote reaches the image before the final fdatasync).
    package func finishInFlight() {
        drainEngine(completing: true)
    }
}
