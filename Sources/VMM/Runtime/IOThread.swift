import EventLoop
import Sandbox
import Synchronization
import Threads
@_spi(ExitPath) import Virtio

/// What the I/O thread waits for.
enum IOEvent: Sendable {
    /// A descriptor virtio device `index` watches is ready (`token` is the device's name for it).
    case device(index: Int, token: DeviceEventToken)
    /// Console input is readable.
    case consoleInput
    /// The guest read from its UART after console input was refused for lack of room.
    case consoleInputRoom
}

/// The one I/O thread: waits on the event loop and runs device work (queue processing), so
/// vCPU threads only take exits. Started with the machine, stopped after the vCPUs.
final class IOThread: Sendable {
    let loop: EventLoop<IOEvent>
    private let stopping = Atomic<Bool>(false)
    private let thread = Mutex<OSThread?>(nil)
    /// Parks the thread between two event batches while the machine is paused.
    private let pauseGate = PauseGate()
    /// CLOCK_MONOTONIC of the loop's last turn (it turns at least once a second).
    private let heartbeat = Atomic<UInt64>(0)

    /// Nanoseconds since the loop last turned, or nil before it started.
    var nanosecondsSinceProgress: UInt64? {
        let last = heartbeat.load(ordering: .relaxed)
        return last == 0 ? nil : MonotonicClock.nanoseconds() &- last
    }

    init() throws {
        loop = try EventLoop<IOEvent>()
    }

    /// Starts the thread under the `io` seccomp profile; `handle` runs on it for every event.
    func start(seccomp: SeccompMode, _ handle: @escaping @Sendable (IOEvent) -> Void) throws {
        let loop = self.loop
        heartbeat.store(MonotonicClock.nanoseconds(), ordering: .relaxed)
        let started = try sandboxedThread(name: "vmm-io", profile: .io, seccomp: seccomp) { [self] in
            while !stopping.load(ordering: .acquiring) {
                do {
                    // A turn at least once a second, so that a stuck thread shows (health).
                    _ = try loop.wait(timeoutMilliseconds: 1000, handle)
                    heartbeat.store(MonotonicClock.nanoseconds(), ordering: .relaxed)
                } catch {
                    return  // epoll itself failed: nothing more can be waited for
                }
                if pauseGate.isRequested.load(ordering: .acquiring) { pauseGate.parkIfRequested() }
            }
        }
        thread.withLock { $0 = started }
    }

    /// Parks the thread after the event batch it is handling (device queues are then quiet:
    /// notifications and frames wait in their eventfds and the tap). Returns false when it did
    /// not park within `timeoutMilliseconds`.
    func pause(timeoutMilliseconds: Int) -> Bool {
        pauseGate.request()
        loop.wake()
        return PauseGate.waitUntil(timeoutMilliseconds: timeoutMilliseconds) {
            pauseGate.parkedCount == 1 || stopping.load(ordering: .acquiring)
        } && !stopping.load(ordering: .acquiring)
    }

    /// Lets a paused thread go on.
    func resume() {
        pauseGate.release()
    }

    /// Stops the thread (paused or not) and waits for it.
    func stop() {
        stopping.store(true, ordering: .releasing)
        pauseGate.release()
        loop.wake()
        thread.withLock { $0 }?.join()
    }
}
