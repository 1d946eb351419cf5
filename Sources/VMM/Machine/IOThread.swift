import EventLoop
import KVM
import Sandbox
import Synchronization

/// What the I/O thread waits for.
enum IOEvent: Sendable {
    /// The driver notified queue `queue` of virtio device `device` (its ioeventfd fired).
    case queueNotify(device: Int, queue: Int)
    /// The network backend (tap) of virtio device `device` has frames.
    case networkReadable(device: Int)
}

/// The one I/O thread: waits on the event loop and runs device work (queue processing), so
/// vCPU threads only take exits. Started with the machine, stopped after the vCPUs.
final class IOThread: Sendable {
    let loop: EventLoop<IOEvent>
    private let stopping = Atomic<Bool>(false)
    private let thread = Mutex<OSThread?>(nil)

    init() throws {
        loop = try EventLoop<IOEvent>()
    }

    /// Starts the thread under the `io` seccomp profile; `handle` runs on it for every event.
    func start(seccomp: SeccompMode, _ handle: @escaping @Sendable (IOEvent) -> Void) throws {
        let loop = self.loop
        let started = try sandboxedThread(name: "vmm-io", profile: .io, seccomp: seccomp) { [self] in
            while !stopping.load(ordering: .acquiring) {
                do {
                    _ = try loop.wait(handle)
                } catch {
                    return  // epoll itself failed: nothing more can be waited for
                }
            }
        }
        thread.withLock { $0 = started }
    }

    /// Stops the thread and waits for it.
    func stop() {
        stopping.store(true, ordering: .releasing)
        loop.wake()
        thread.withLock { $0 }?.join()
    }
}
