import GuestMemory
import Threads

#if canImport(Glibc)
    import Glibc
#endif

/// How a disk's reads, writes and flushes run (a disk's `aio` setting picks one).
package enum BlockEngineKind: String, Sendable, Equatable, CaseIterable {
    /// io_uring: many requests in flight, submitted and reaped in batches by the I/O thread.
    case ioUring = "io_uring"
    /// A pool of worker threads doing preadv/pwritev/fdatasync: the same depth where io_uring
    /// is refused (container runtimes' default seccomp profiles refuse it).
    case threads
    /// On the I/O thread, one request after another (adjacent ones merged).
    case sync
}

/// What an engine did with an operation handed to it.
package enum BlockEngineAdmission: Sendable, Equatable {
    /// Queued: it starts with the next `submit`, and its completion comes from `reap`.
    case queued
    /// The submission queue is full: submit what is queued, then hand it again.
    case full
    /// Run already (the synchronous engine): its result, as `reap` would have given it.
    case completed(result: Int)
}

/// One operation handed to an engine: a vectored read or write, or fdatasync.
package struct BlockEngineOperation: Sendable {
    package enum Kind: Sendable, Equatable {
        case read
        case write
        case datasync
    }

    package let kind: Kind
    package let descriptor: Int32
    package let offset: UInt64
    /// The guest buffers (reads and writes); they keep guest memory mapped until released.
    package let vectors: HostIOVectors?
    /// The caller's name for the operation, returned with its completion.
    package let tag: UInt64
}

/// One finished operation: its tag and the bytes moved (or 0 for fdatasync), or -errno.
package struct BlockEngineCompletion: Sendable, Equatable {
    package let tag: UInt64
    package let result: Int
}

/// Why an engine cannot be set up.
package enum BlockEngineError: Error, Equatable, Sendable, CustomStringConvertible {
    /// io_uring_setup (or its restriction and eventfd registration) failed with `errno`.
    case ioUringUnavailable(errno: Int32)
    /// The worker threads or their eventfds could not be created.
    case workersUnavailable(String)

    package var description: String {
        switch self {
        case .ioUringUnavailable(let code):
            let reason =
                code == 1 || code == 38 ? " (a seccomp profile refuses it, as container runtimes' defaults do)" : ""
            return "io_uring is not available: io_uring_setup failed with errno \(code)\(reason)"
        case .workersUnavailable(let reason):
            return "the block worker threads could not start: \(reason)"
        }
    }
}

/// Starts an OS thread named `name` running `body` (the machine passes one that sandboxes the
/// thread like its I/O thread).
package typealias BlockWorkerSpawner =
    @Sendable (_ name: String, _ body: @escaping @Sendable () -> Void) throws ->
    OSThread

/// Runs block operations. An asynchronous engine queues them (`enqueue`), starts them together
/// (`submit`) and hands their completions back (`reap`) when `completionDescriptor` is readable;
/// the synchronous engine runs each in `enqueue` and answers `.completed`. All calls come from
/// one thread at a time (the device serializes them).
package protocol BlockEngine: AnyObject, Sendable {
    var kind: BlockEngineKind { get }
    /// An eventfd that becomes readable when completions wait; nil when every operation
    /// completes in `enqueue`.
    var completionDescriptor: Int32? { get }
    /// Operations that may be in flight at once (queued, running, or completed and not reaped).
    var capacity: Int { get }
    /// Starts what runs the operations (worker threads), with the machine.
    func start() throws(BlockEngineError)
    /// Takes `operation`: queues it, refuses it for now (`.full`), or runs it at once.
    func enqueue(_ operation: BlockEngineOperation) -> BlockEngineAdmission
    /// Starts every queued operation.
    func submit()
    /// Takes back the operations queued and not yet started (a failed submit leaves io_uring's
    /// queued), without a system call, and returns their tags: they never start. A reset uses
    /// it on whichever thread resets the device — a vCPU thread, whose filter forbids
    /// io_uring_enter.
    func withdrawQueued() -> [UInt64]
    /// Takes up to `maximum` completions; never blocks.
    func reap(maximum: Int) -> [BlockEngineCompletion]
    /// Consumes the completion descriptor's wake-ups (before reaping).
    func acknowledgeWakeUp()
    /// Makes the completion descriptor readable again (a turn left completions to reap).
    func wakeAgain()
}

/// Creates engines for a disk's `aio` setting.
package enum BlockEngines {
    /// Worker threads of one disk's pool.
    package static let workerCount = 8
    /// io_uring submission slots of one disk (completion slots are twice as many).
    package static let ringEntries: UInt32 = 256

    /// The engine for `kind`. `.ioUring` fails when io_uring is refused; callers asking for
    /// `auto` use `automatic` instead.
    package static func make(_ kind: BlockEngineKind, name: String, spawn: @escaping BlockWorkerSpawner)
        throws(BlockEngineError) -> any BlockEngine
    {
        switch kind {
        case .sync: return SynchronousEngine()
        case .ioUring: return try IOUringEngine(entries: ringEntries)
        case .threads: return try WorkerPoolEngine(name: name, workerCount: workerCount, spawn: spawn)
        }
    }

    /// io_uring where the host allows it, else the worker pool; also returns why io_uring was
    /// not taken (for the log).
    package static func automatic(name: String, spawn: @escaping BlockWorkerSpawner) throws(BlockEngineError)
        -> (engine: any BlockEngine, ioUringRefusal: BlockEngineError?)
    {
        do {
            return (try IOUringEngine(entries: ringEntries), nil)
        } catch {
            return (try WorkerPoolEngine(name: name, workerCount: workerCount, spawn: spawn), error)
        }
    }
}

extension BlockEngineOperation {
    /// Runs the operation on the calling thread: the whole transfer (short ones continued) or
    /// fdatasync; bytes moved (0 for fdatasync) or -errno.
    package func run() -> Int {
        switch kind {
        case .datasync:
            while fdatasync(descriptor) != 0 {
                if errno != EINTR { return -Int(errno) }
            }
            return 0
        case .read, .write:
            guard let vectors else { return -Int(EINVAL) }
            switch vectors.transfer(descriptor: descriptor, offset: offset, writing: kind == .write) {
            case .success(let count): return count
            case .failure(let error): return -Int(error.errno)
            }
        }
    }
}

/// The synchronous engine: each operation runs in `enqueue`, on the I/O thread (`aio=sync`, and
/// a lone request at queue depth 1 on any disk, where a hand-off to another engine and back
/// only adds latency). Stateless.
package final class SynchronousEngine: BlockEngine {
    package init() {}
    package var kind: BlockEngineKind { .sync }
    package var completionDescriptor: Int32? { nil }
    package var capacity: Int { Int.max / 2 }
    package func start() throws(BlockEngineError) {}
    package func enqueue(_ operation: BlockEngineOperation) -> BlockEngineAdmission {
        .completed(result: operation.run())
    }
    package func submit() {}
    package func withdrawQueued() -> [UInt64] { [] }
    package func reap(maximum: Int) -> [BlockEngineCompletion] { [] }
    package func acknowledgeWakeUp() {}
    package func wakeAgain() {}
}
