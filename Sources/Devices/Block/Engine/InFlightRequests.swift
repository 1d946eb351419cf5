import GuestMemory

/// A parsed request and the chain head it completes.
struct PendingRequest: Sendable {
    let head: UInt16
    let request: BlockRequest
}

/// What a virtio-blk device has handed to its engine and not yet completed, per tag, and the
/// FLUSH requests that wait for earlier writes. Tags grow with every request taken from a
/// queue, so "earlier" is "smaller tag". All of it lives under the device's lock.
struct InFlightRequests: Sendable {
    /// One engine operation and the requests it completes (several when adjacent ones merged).
    struct Entry: Sendable {
        let queue: Int
        let requests: [PendingRequest]
        let kind: BlockEngineOperation.Kind
        /// Bytes the operation must move for every request to succeed.
        let expectedBytes: UInt64
        /// Keeps the guest buffers mapped and described until the completion.
        let vectors: HostIOVectors?
        /// Keeps the backend (its descriptor) open until the completion.
        let backend: any BlockBackend
        let startedNanoseconds: UInt64
    }

    /// A FLUSH that arrived while writes taken before it were still in flight.
    struct WaitingFlush: Sendable {
        let tag: UInt64
        let queue: Int
        let request: PendingRequest
        let startedNanoseconds: UInt64
    }

    private(set) var entries: [UInt64: Entry] = [:]
    private(set) var waitingFlushes: [WaitingFlush] = []
    /// Chains in flight (operations and waiting flushes) per queue: a queue takes no more than
    /// its size, whatever a driver republishes.
    private(set) var chainsInFlight: [Int]
    /// Queues that stopped taking requests at a limit and continue when completions free room.
    var throttled: Set<Int> = []
    private var nextTag: UInt64 = 1

    init(queueCount: Int) {
        chainsInFlight = Array(repeating: 0, count: queueCount)
    }

    var isEmpty: Bool { entries.isEmpty && waitingFlushes.isEmpty }

    /// A new tag (taken in request order).
    mutating func makeTag() -> UInt64 {
        defer { nextTag &+= 1 }
        return nextTag
    }

    /// Whether queue `queue` (of `size` entries) may take another chain, besides `adding` taken
    /// and not yet submitted, while the engine has room for `capacity` operations.
    func canTake(queue: Int, size: UInt16, capacity: Int, adding: Int) -> Bool {
        chainsInFlight.indices.contains(queue) && chainsInFlight[queue] + adding < Int(size)
            && entries.count + waitingFlushes.count + adding < capacity
    }

    mutating func add(_ entry: Entry, tag: UInt64) {
        entries[tag] = entry
        chainsInFlight[entry.queue] += entry.requests.count
    }

    mutating func remove(_ tag: UInt64) -> Entry? {
        guard let entry = entries.removeValue(forKey: tag) else { return nil }
        chainsInFlight[entry.queue] -= entry.requests.count
        return entry
    }

    /// Whether a write taken before `tag` has not completed yet.
    func hasWrite(before tag: UInt64) -> Bool {
        entries.contains { $0.key < tag && $0.value.kind == .write }
    }

    mutating func wait(_ flush: WaitingFlush) {
        waitingFlushes.append(flush)
        chainsInFlight[flush.queue] += 1
    }

    /// The waiting flushes whose earlier writes have all completed, removed from the wait list.
    mutating func takeReadyFlushes() -> [WaitingFlush] {
        guard !waitingFlushes.isEmpty else { return [] }
        let oldestWrite = entries.filter { $0.value.kind == .write }.keys.min() ?? .max
        let ready = waitingFlushes.filter { $0.tag < oldestWrite }
        waitingFlushes.removeAll { $0.tag < oldestWrite }
        for flush in ready { chainsInFlight[flush.queue] -= 1 }
        return ready
    }

    /// Forgets every waiting flush (a reset: they never started).
    mutating func dropWaitingFlushes() {
        for flush in waitingFlushes { chainsInFlight[flush.queue] -= 1 }
        waitingFlushes = []
    }
}
