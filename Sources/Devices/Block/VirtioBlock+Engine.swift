import EventLoop
import GuestMemory
@_spi(ExitPath) import Virtio

#if canImport(Glibc)
    import Glibc
#endif

/// How virtio-blk runs requests: one walk over a batch (`start`), one call site per operation
/// (`hand`), whatever the engine: the synchronous engine answers at once, an asynchronous one
/// later through `sourceReady(completionSource)` (on the I/O thread).
extension VirtioBlock {
    /// Completions handled per wake-up of the I/O thread (more wait for the next turn).
    static let completionBudget = 256
    /// What a lone request at queue depth 1 runs on (see `runsInline`).
    private static let inline = SynchronousEngine()

    /// Starts the engine's workers (with the machine).
    package func startEngine() throws(BlockEngineError) {
        try engine.start()
    }

    /// A lone read or write with nothing in flight runs on the synchronous engine: at queue
    /// depth 1 a hand-off to another engine and back only adds latency (measured: 4 KiB reads
    /// at depth 1 go 1.7× faster inline than through io_uring, 4× faster than through the
    /// worker threads). From the second request in flight on, requests go to the disk's engine.
    private func engine(for batch: [PendingRequest]) -> any BlockEngine {
        batch.count == 1 && batch[0].request.transfer != nil && inFlight.withLock { $0.isEmpty } ? Self.inline : engine
    }

    /// Starts `batch` (taken from queue `index`, in order): adjacent reads or writes as one
    /// operation, FLUSH once every earlier write has completed; other requests (GET_ID,
    /// DISCARD, WRITE_ZEROES, bad ones) and requests a backend cannot hand to an engine (no
    /// descriptor) run at once through the backend. Each completes as soon as its result is
    /// known: here for what ran at once, on a later `sourceReady` for what was queued.
    func start(_ batch: [PendingRequest], queue: SplitQueue, index: Int, memory: GuestMemory) throws(QueueError) {
        guard !batch.isEmpty else { return }
        let backend = self.backend  // one read per batch (a replacement waits for the batch)
        let engine = self.engine(for: batch)
        var queued = false
        var position = 0
        while position < batch.count {
            let run = Self.mergeableRun(batch, from: position)
            position += run.count
            let started = MonotonicClock.nanoseconds()
            let operation: (BlockEngineOperation.Kind, Int32, UInt64, HostIOVectors?)?
            switch run[run.startIndex].request.operation {
            case .read, .write: operation = transfer(run, backend: backend, memory: memory)
            case .flush: operation = backend.flushDescriptor.map { (.datasync, $0, 0, nil) }
            default: operation = nil
            }
            guard let (kind, descriptor, offset, vectors) = operation else {
                try finish(
                    run, statuses: executeAtOnce(run, backend: backend, memory: memory), queue: queue, memory: memory,
                    startedNanoseconds: started)
                continue
            }
            let entry = InFlightRequests.Entry(
                queue: index, requests: Array(run), kind: kind, expectedBytes: vectors?.totalBytes ?? 0,
                vectors: vectors, backend: backend, startedNanoseconds: started)
            let tag: UInt64? = inFlight.withLock { table in
                let tag = table.makeTag()
                if kind == .datasync, table.hasWrite(before: tag) {
                    table.wait(
                        InFlightRequests.WaitingFlush(
                            tag: tag, queue: index, request: entry.requests[0], startedNanoseconds: started))
                    return nil
                }
                table.add(entry, tag: tag)
                return tag
            }
            guard let tag else { continue }  // the flush starts once the earlier writes completed
            let operationToHand = BlockEngineOperation(
                kind: kind, descriptor: descriptor, offset: offset, vectors: vectors, tag: tag)
            guard case .completed(let result) = hand(operationToHand, to: engine) else {
                queued = true
                continue
            }
            guard let done = inFlight.withLock({ $0.remove(tag) }) else { continue }
            try finish(
                done.requests, statuses: statuses(of: done, result: result, memory: memory), queue: queue,
                memory: memory, startedNanoseconds: started)
        }
        if queued { engine.submit() }
    }

    /// A read or write run as one operation (merged), or nil when it cannot go to an engine: out
    /// of range, read-only, outside guest memory, or a backend without descriptors.
    private func transfer(_ run: ArraySlice<PendingRequest>, backend: any BlockBackend, memory: GuestMemory)
        -> (BlockEngineOperation.Kind, Int32, UInt64, HostIOVectors?)?
    {
        let first = run[run.startIndex].request
        let request = run.count > 1 ? Self.merged(run.map(\.request)) ?? first : first
        guard let transfer = request.transfer, let buffers = request.dataBuffers,
            let offset = Self.byteOffset(transfer.sector),
            let descriptor = backend.transferDescriptor(offset: offset, buffers: buffers, writing: transfer.isWrite),
            let vectors = try? HostIOVectors(
                memory: memory, buffers: buffers.map { (address: $0.address, length: $0.length) })
        else { return nil }
        return (transfer.isWrite ? .write : .read, descriptor, offset, vectors)
    }

    /// Runs `run` through the backend at once: a merged read or write as one call (retried
    /// request by request when it fails, for exact statuses), anything else request by request.
    private func executeAtOnce(_ run: ArraySlice<PendingRequest>, backend: any BlockBackend, memory: GuestMemory)
        -> [BlockRequest.Status]
    {
        if run.count > 1, let merged = Self.merged(run.map(\.request)),
            execute(merged, on: backend, memory: memory) == .ok
        {
            return Array(repeating: .ok, count: run.count)
        }
        return run.map { execute($0.request, on: backend, memory: memory) }
    }

    private func flushEntry(_ pending: PendingRequest, queue: Int, backend: any BlockBackend, started: UInt64)
        -> InFlightRequests.Entry
    {
        InFlightRequests.Entry(
            queue: queue, requests: [pending], kind: .datasync, expectedBytes: 0, vectors: nil, backend: backend,
            startedNanoseconds: started)
    }

    /// Hands `operation` to `engine`, submitting what is queued first when the submission
    /// queue is full. Answers `.queued` or `.completed`: an operation still refused completes as
    /// failed on the next reap rather than being lost.
    @discardableResult
    private func hand(_ operation: BlockEngineOperation, to engine: any BlockEngine) -> BlockEngineAdmission {
        var admission = engine.enqueue(operation)
        if admission == .full {
            engine.submit()
            admission = engine.enqueue(operation)
        }
        guard admission == .full else { return admission }
        _ = inFlight.withLock { $0.remove(operation.tag) }.map { entry in
            orphans.withLock { $0.append((entry, -Int(EAGAIN))) }
        }
        engine.wakeAgain()
        return .queued
    }

    /// The engine's completion eventfd is readable: complete what finished (bounded per turn),
    /// start the flushes whose earlier writes are done, and let throttled queues take requests
    /// again.
    package func sourceReady(_ source: Int) throws(QueueError) {
        guard source == Self.completionSource else { return }
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
            let admission = hand(
                BlockEngineOperation(kind: .datasync, descriptor: descriptor, offset: 0, vectors: nil, tag: tag),
                to: engine)
            if case .completed(let result) = admission {  // completed with the next reap
                _ = inFlight.withLock { $0.remove(tag) }.map { entry in orphans.withLock { $0.append((entry, result)) }
                }
                engine.wakeAgain()
            }
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
