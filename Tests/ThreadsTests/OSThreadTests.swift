import Foundation
import Synchronization
import Testing
import Threads

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct OSThreadTests {
    @Test func kickSignalIsARealTimeSignal() {
        #expect(VCPUKickSignal.number >= 32)  // SIGRTMIN with glibc is 34
    }

    @Test func runsItsBodyOnANamedThreadAndJoins() throws {
        let name = Mutex("")
        let thread = try OSThread(name: "a-very-long-thread-name") {
            // The kernel's name for the calling thread (what `ps -L` and /proc show).
            let text = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
            name.withLock { $0 = text.trimmingCharacters(in: .newlines) }
        }
        thread.join()
        thread.join()  // later joins return at once
        #expect(name.withLock { $0 } == "a-very-long-thr")  // Linux keeps 15 bytes
    }

    @Test func aKickInterruptsABlockingSystemCall() throws {
        let interrupted = Atomic<Bool>(false)
        let started = Atomic<Bool>(false)
        let thread = try OSThread(name: "kick-test") {
            started.store(true, ordering: .releasing)
            var request = timespec(tv_sec: 10, tv_nsec: 0)
            var remaining = timespec()
            // The kick handler is installed without SA_RESTART, so the sleep ends with EINTR.
            if nanosleep(&request, &remaining) == -1, errno == EINTR { interrupted.store(true, ordering: .releasing) }
        }
        while !started.load(ordering: .acquiring) { usleep(1000) }
        var waitedMilliseconds = 0
        while !interrupted.load(ordering: .acquiring), waitedMilliseconds < 5000 {
            thread.kick()
            usleep(10_000)
            waitedMilliseconds += 10
        }
        thread.join()
        let wasInterrupted = interrupted.load(ordering: .acquiring)
        #expect(wasInterrupted)
    }
}
