@_spi(ExitPath) import Devices
import EventLoop
@_spi(ExitPath) import KVM
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Why one vCPU's loop ended.
enum VCPUStop: Sendable, Equatable {
    case request(MachineRequest)
    case halted
    case tripleFault
    case failure(String)
    case stopRequested
}

/// One vCPU's exit loop: runs the guest, sends port and MMIO exits to the bus, and returns
/// when the guest or the machine ends the run. Runs on its own OS thread.
final class VCPURunner: Sendable {
    let vcpu: VCPUFD
    let bus: DeviceBus
    let stopRequested: Atomic<Bool>
    /// Where the loop parks while the machine is paused (shared by the machine's vCPUs).
    let pauseGate: PauseGate
    /// Set when `run()` has returned.
    let hasFinished = Atomic<Bool>(false)
    /// Live exit counters (written by the vCPU's thread only).
    let counters = VCPUExitCounters()

    init(vcpu: VCPUFD, bus: DeviceBus, pauseGate: PauseGate) {
        self.vcpu = vcpu
        self.bus = bus
        self.pauseGate = pauseGate
        self.stopRequested = Atomic(false)
    }

    /// Asks the loop to end: flags it, makes the next KVM_RUN return at once. The caller also
    /// kicks the thread with the signal so that a KVM_RUN in progress returns.
    func requestStop() {
        stopRequested.store(true, ordering: .sequentiallyConsistent)
        vcpu.requestImmediateExit()
    }

    /// Makes the next (or current, once the caller kicks the thread) KVM_RUN return, so that the
    /// loop sees the raised pause gate and parks.
    func requestPause() {
        vcpu.requestImmediateExit()
    }

    /// The counts so far (live while the loop runs).
    var exitCounts: VCPUExitCounts { counters.snapshot(now: monotonicNanoseconds()) }

    /// Runs until the guest or a stop request ends the loop.
    func run() -> VCPUStop {
        counters.markStarted(monotonicNanoseconds())
        let stop = loop(counters)
        counters.markEnded(monotonicNanoseconds())
        hasFinished.store(true, ordering: .releasing)
        return stop
    }

    /// The exit loop. Per exit: one KVM_RUN, one decode, one bus lookup, one device call
    /// (`ExitDispatch.handle`).
    @inline(never)
    private func loop(_ counts: VCPUExitCounters) -> VCPUStop {
        let vcpu = self.vcpu
        let bus = self.bus
        if stopRequested.load(ordering: .sequentiallyConsistent) { return .stopRequested }
        while true {
            let error = vcpu.run()
            let action: ExitAction
            if error == 0 {
                let exit = vcpu.exit
                action = ExitDispatch.handle(exit, bus: bus, completion: vcpu, counts: counts)
            } else if error == EINTR || error == EAGAIN {
                action = .interrupted  // a kick (signal or immediate_exit)
            } else {
                return .failure("KVM_RUN failed: \(errnoText(error))")
            }
            switch action {
            case .resume:
                continue
            case .interrupted:
                // Consume the kick first, then read what it was for: a stop or pause whose flag
                // is set after this check sets immediate_exit after this clear, so the next
                // KVM_RUN returns at once; and an aborted pause never leaves immediate_exit set
                // (every KVM_RUN would return EINTR: the vCPU would spin).
                vcpu.clearImmediateExit()
                if stopRequested.load(ordering: .sequentiallyConsistent) { return .stopRequested }
                if pauseGate.isRequested.load(ordering: .sequentiallyConsistent) {
                    if let stop = park(counts) { return stop }
                    continue
                }
                counts.countInterrupted()
            case .stop(let stop):
                return stop
            }
        }
    }

    /// The safe point of a pause: out of KVM_RUN, between two exits. Parks until resumed, then
    /// clears the immediate-exit request (a stop made meanwhile is seen by the check after it;
    /// a new pause made meanwhile parks again). Returns a stop if one came while parked.
    @inline(never)
    private func park(_ counts: VCPUExitCounters) -> VCPUStop? {
        repeat {
            let parkedAt = monotonicNanoseconds()
            pauseGate.parkIfRequested()
            counts.countPause(nanoseconds: monotonicNanoseconds() &- parkedAt)
            vcpu.clearImmediateExit()
            if stopRequested.load(ordering: .sequentiallyConsistent) { return .stopRequested }
        } while pauseGate.isRequested.load(ordering: .sequentiallyConsistent)
        return nil
    }
}

/// CLOCK_MONOTONIC in nanoseconds.
func monotonicNanoseconds() -> UInt64 { MonotonicClock.nanoseconds() }

/// strerror text with the errno number.
func errnoText(_ code: Int32) -> String {
    String(cString: strerror(code)) + " (errno \(code))"
}
