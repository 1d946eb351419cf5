import CThreads
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The signal SwiftVMM sends to a vCPU thread to kick it out of KVM_RUN: the first real-time
/// signal, `SIGRTMIN` (34 with glibc). The library installs a no-op handler for it (without
/// SA_RESTART) the first time a vCPU thread starts, and never touches any other signal —
/// SIGTERM and SIGINT belong to the executable.
package enum VCPUKickSignal {
    /// The signal number (SIGRTMIN).
    package static var number: Int32 { cthreads_sigrtmin() }

    private static let installation = Mutex<Int32?>(nil)

    /// Installs the no-op handler once per process. Returns the errno on failure.
    static func installHandler() throws(ThreadError) {
        let failure: Int32? = installation.withLock { state in
            if let result = state { return result == 0 ? nil : result }
            let result: Int32 = cthreads_install_kick_handler(number) == 0 ? 0 : errno
            state = result
            return result == 0 ? nil : result
        }
        if let failure { throw ThreadError(operation: "sigaction(SIGRTMIN)", errno: failure) }
    }
}

/// An OS thread that runs one closure, for vCPU loops and other blocking work that must never
/// run on the Swift concurrency pool. The kick signal is unblocked in the new thread.
package final class OSThread: Sendable {
    /// The pthread, and whether its body has returned (after which it is never signalled).
    private let state: Mutex<(thread: pthread_t?, finished: Bool, joinClaimed: Bool, finalCPUNanoseconds: UInt64?)>

    private final class Start: @unchecked Sendable {
        // SAFETY (@unchecked Sendable): written before pthread_create and read once by the new
        // thread; pthread_create is a full memory barrier between the two.
        let name: String
        let body: @Sendable () -> Void
        weak var owner: OSThread?
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// Starts a thread named `name` (truncated to 15 bytes, as Linux allows) that runs `body`.
    package init(name: String, body: @escaping @Sendable () -> Void) throws(ThreadError) {
        try VCPUKickSignal.installHandler()
        state = Mutex((thread: nil, finished: false, joinClaimed: false, finalCPUNanoseconds: nil))
        let startObject = Start(name: name, body: body)
        let start = Unmanaged.passRetained(startObject)
        // Hold the lock until the handle is stored, so the thread's "finished" store comes after it.
        let result: Int32 = state.withLock { state in
            startObject.owner = self
            var thread = pthread_t()
            // SAFETY: the context pointer is a retained Start object; the entry point takes that
            // retain back exactly once.
            let result = pthread_create(&thread, nil, osThreadEntry, start.toOpaque())
            if result == 0 { state.thread = thread }
            return result
        }
        guard result == 0 else {
            start.release()
            throw ThreadError(operation: "pthread_create for \(name)", errno: result)
        }
    }

    /// Sends the vCPU kick signal to the thread, unless its body has already returned.
    package func kick() {
        state.withLock { state in
            if let thread = state.thread, !state.finished { pthread_kill(thread, VCPUKickSignal.number) }
        }
    }

    /// Waits for the thread to finish. Only the first call waits; later calls return at once.
    package func join() {
        if let thread = claimJoin() { pthread_join(thread, nil) }
    }

    /// Releases the thread's resources without leaving it joinable: joins it, or detaches it
    /// when called on the thread itself (which cannot join itself). Later calls do nothing.
    package func joinOrDetach() {
        guard let thread = claimJoin() else { return }
        if pthread_equal(thread, pthread_self()) != 0 {
            pthread_detach(thread)
        } else {
            pthread_join(thread, nil)
        }
    }

    /// The thread to join or detach, once: nil after the first call.
    private func claimJoin() -> pthread_t? {
        state.withLock { state in
            if state.joinClaimed { return nil }
            state.joinClaimed = true
            return state.thread
        }
    }

    /// Whether the thread's body has returned.
    package var isFinished: Bool { state.withLock { $0.finished } }

    /// The CPU time the thread has used (user and system; a vCPU's guest time included), read
    /// from its CPU clock while it runs and kept from its last moment once its body returned.
    package var cpuNanoseconds: UInt64 {
        state.withLock { state in
            if state.finished { return state.finalCPUNanoseconds ?? 0 }
            guard let thread = state.thread else { return 0 }
            var clock = clockid_t()
            guard pthread_getcpuclockid(thread, &clock) == 0 else { return 0 }
            return Self.read(clock)
        }
    }

    private static func read(_ clock: clockid_t) -> UInt64 {
        var time = timespec()
        guard clock_gettime(clock, &time) == 0 else { return 0 }
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
    }

    private func markFinished() {
        let used = Self.read(CLOCK_THREAD_CPUTIME_ID)
        state.withLock {
            $0.finalCPUNanoseconds = used
            $0.finished = true
        }
    }

    fileprivate static func run(context: UnsafeMutableRawPointer) {
        let start = Unmanaged<Start>.fromOpaque(context).takeRetainedValue()
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, VCPUKickSignal.number)
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
        _ = String(decoding: start.name.utf8.prefix(15), as: UTF8.self).withCString {
            cthreads_set_name($0)
        }
        start.body()
        start.owner?.markFinished()
    }
}

/// The C entry point of every OSThread.
// SAFETY: `context` is the retained Start object OSThread.init passed to pthread_create; run
// takes that retain back exactly once.
private func osThreadEntry(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    if let context { OSThread.run(context: context) }
    return nil
}

/// A thread could not be created or set up: the system call and its errno.
package struct ThreadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The failed operation, such as `pthread_create for vcpu0`.
    package let operation: String
    /// The errno it returned.
    package let errno: Int32

    package init(operation: String, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }

    package var description: String { "\(operation) failed: \(String(cString: strerror(errno))) (errno \(errno))" }
}
