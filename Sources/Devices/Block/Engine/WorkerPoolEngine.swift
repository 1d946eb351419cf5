import EventLoop
import Synchronization
import Threads

#if canImport(Glibc)
    import Glibc
#endif

/// The worker-pool engine: a fixed set of threads take queued operations in order and run
/// them with preadv/pwritev (whole transfers, short ones continued) or fdatasync, then post
/// the completion and signal an eventfd that the I/O thread watches. Used where io_uring is
/// refused (the default seccomp profiles of container runtimes and Kubernetes' RuntimeDefault).
package final class WorkerPoolEngine: BlockEngine {
    /// What the workers and the device share.
    private final class Shared: Sendable {
        struct Queue {
            /// Queued operations; `next` is the first not yet taken.
            var operations: [BlockEngineOperation] = []
            var next = 0
            var finished: [BlockEngineCompletion] = []
            var stopping = false
        }

        let queue = Mutex(Queue())
        /// Counts operations the workers may take (a semaphore eventfd they block on).
        let work: EventFD
        let completed: EventFD

        init() throws(EventLoopError) {
            work = try EventFD(semaphore: true)
            completed = try EventFD()
        }

        /// One worker's loop: take an operation, run it, post its completion.
        func runWorker() {
            while work.waitOne() {
                let taken: BlockEngineOperation? = queue.withLock { queue in
                    guard !queue.stopping, queue.next < queue.operations.count else { return nil }
                    defer {
                        queue.next += 1
                        if queue.next == queue.operations.count {
                            queue.operations.removeAll(keepingCapacity: true)
                            queue.next = 0
                        }
                    }
                    return queue.operations[queue.next]
                }
                guard let operation = taken else {
                    if queue.withLock({ $0.stopping }) { return }
                    continue
                }
                let result = operation.run()
                queue.withLock { $0.finished.append(BlockEngineCompletion(tag: operation.tag, result: result)) }
                completed.signal()
            }
        }
    }

    private let shared: Shared
    private let workers = Mutex<[OSThread]>([])
    private let name: String
    private let workerCount: Int
    private let spawn: BlockWorkerSpawner
    /// Operations queued since the last submit.
    private let staged = Atomic<Int>(0)
    package let capacity: Int
    package var kind: BlockEngineKind { .threads }
    package var completionDescriptor: Int32? { shared.completed.rawValue }

    /// A pool of `workerCount` threads named after `name`, started by `start()` through `spawn`.
    package init(name: String, workerCount: Int, capacity: Int = 1024, spawn: @escaping BlockWorkerSpawner)
        throws(BlockEngineError)
    {
        do {
            shared = try Shared()
        } catch {
            throw .workersUnavailable(error.description)
        }
        self.name = name
        self.workerCount = max(1, workerCount)
        self.capacity = capacity
        self.spawn = spawn
    }

    /// Starts the threads (once; with the machine, after the process's own seccomp filter, which
    /// a thread filtered earlier would keep from being installed on every thread).
    package func start() throws(BlockEngineError) {
        let shared = self.shared
        let failure: String? = workers.withLock { workers in
            guard workers.isEmpty else { return nil }
            for index in 0..<workerCount {
                do {
                    workers.append(try spawn("\(name)-\(index)") { shared.runWorker() })
                } catch {
                    return "\(error)"
                }
            }
            return nil
        }
        if let failure { throw .workersUnavailable(failure) }
    }

    deinit {
        let workers = self.workers.withLock { $0 }
        shared.queue.withLock { $0.stopping = true }
        shared.work.signal(UInt64(max(1, workers.count)))
        for worker in workers { worker.join() }
    }

    package func enqueue(_ operation: BlockEngineOperation) -> BlockEngineAdmission {
        shared.queue.withLock { $0.operations.append(operation) }
        staged.add(1, ordering: .relaxed)
        return .queued
    }

    package func submit() {
        let count = staged.exchange(0, ordering: .relaxed)
        if count > 0 { shared.work.signal(UInt64(count)) }
    }

    /// The operations no worker has taken yet leave the queue (the semaphore's extra counts wake
    /// workers that find nothing).
    package func withdrawQueued() -> [UInt64] {
        shared.queue.withLock { queue in
            let withdrawn = queue.operations[queue.next...].map(\.tag)
            queue.operations.removeAll(keepingCapacity: true)
            queue.next = 0
            return withdrawn
        }
    }

    package func reap(maximum: Int) -> [BlockEngineCompletion] {
        shared.queue.withLock { queue in
            let count = min(max(0, maximum), queue.finished.count)
            defer { queue.finished.removeFirst(count) }
            return Array(queue.finished.prefix(count))
        }
    }

    package func acknowledgeWakeUp() { _ = shared.completed.drain() }
    package func wakeAgain() { shared.completed.signal() }
}
