import Devices
import KVM
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
    private let finalCounts = Mutex(VCPUExitCounts())

    init(vcpu: VCPUFD, bus: DeviceBus) {
        self.vcpu = vcpu
        self.bus = bus
        self.stopRequested = Atomic(false)
    }

    /// Asks the loop to end: flags it, makes the next KVM_RUN return at once. The caller also
    /// kicks the thread with the signal so that a KVM_RUN in progress returns.
    func requestStop() {
        stopRequested.store(true, ordering: .sequentiallyConsistent)
        vcpu.requestImmediateExit()
    }

    /// The counts of the last finished run.
    var exitCounts: VCPUExitCounts { finalCounts.withLock { $0 } }

    /// Runs until the guest or a stop request ends the loop.
    func run() -> VCPUStop {
        var counts = VCPUExitCounts()
        let started = monotonicNanoseconds()
        let stop = loop(&counts)
        counts.runNanoseconds = monotonicNanoseconds() &- started
        finalCounts.withLock { $0 = counts }
        return stop
    }

    /// The exit loop. Per exit: one KVM_RUN, one decode, one bus lookup, one device call.
    @inline(never)
    private func loop(_ counts: inout VCPUExitCounts) -> VCPUStop {
        let vcpu = self.vcpu
        let bus = self.bus
        if stopRequested.load(ordering: .sequentiallyConsistent) { return .stopRequested }
        while true {
            let error = vcpu.run()
            if error != 0 {
                if error == EINTR || error == EAGAIN {
                    counts.interrupted &+= 1
                    if stopRequested.load(ordering: .sequentiallyConsistent) { return .stopRequested }
                    continue
                }
                return .failure("KVM_RUN failed: \(errnoText(error))")
            }
            switch vcpu.exit {
            case .portOut(let port, let size, let count, let value):
                counts.portOut &+= 1
                if count == 1 {
                    if let request = bus.portWrite(port: port, size: size, value: UInt64(value)) {
                        return .request(request)
                    }
                } else if let request = repeatedPortOut(port: port, size: size, count: count) {
                    return .request(request)
                }
            case .portIn(let port, let size, let count, let dataOffset):
                counts.portIn &+= 1
                if count == 1 {
                    let value = UInt32(truncatingIfNeeded: bus.portRead(port: port, size: size))
                    vcpu.completePortIn(dataOffset: dataOffset, size: size, value: value)
                    continue
                }
                for element in 0..<count {
                    let value = UInt32(truncatingIfNeeded: bus.portRead(port: port, size: size))
                    vcpu.completePortIn(dataOffset: dataOffset, size: size, element: element, value: value)
                }
            case .mmioWrite(let address, let size, let value):
                counts.mmioWrite &+= 1
                if let request = bus.mmioWrite(address: address, size: size, value: value) { return .request(request) }
            case .mmioRead(let address, let size):
                counts.mmioRead &+= 1
                vcpu.completeMMIORead(size: size, value: bus.mmioRead(address: address, size: size))
            case .interrupted:
                counts.interrupted &+= 1
                if stopRequested.load(ordering: .sequentiallyConsistent) { return .stopRequested }
            case .halt:
                return .halted
            case .shutdown:
                return .tripleFault
            case .systemEvent(let event):
                switch event {
                case .shutdown: return .request(.powerOff)
                case .reset: return .request(.reset)
                case .crash: return .failure("the guest reported a crash (KVM_SYSTEM_EVENT_CRASH)")
                case .other(let type): return .failure("unhandled KVM system event type \(type)")
                }
            case .internalError(let suberror, let data):
                let detail = data.map { ", data 0x" + String($0, radix: 16) } ?? ""
                return .failure(
                    "KVM internal error, suberror \(suberror)\(detail) (KVM could not emulate an instruction)")
            case .failEntry(let reason, let cpu):
                return .failure("VM entry failed, hardware reason 0x\(String(reason, radix: 16)) on host CPU \(cpu)")
            case .exception(let number, let errorCode):
                return .failure("unhandled guest exception \(number), error code \(errorCode)")
            case .unhandled(let reason):
                return .failure("unhandled KVM exit reason \(reason)")
            case .malformed(let reason):
                return .failure("KVM exit reason \(reason) with data outside kvm_run")
            }
        }
    }

    /// `rep outs`: each element goes to the bus in order.
    private func repeatedPortOut(port: UInt16, size: Int, count: Int) -> MachineRequest? {
        for element in 0..<count {
            guard let value = vcpu.portOutValue(element: element) else { break }
            if let request = bus.portWrite(port: port, size: size, value: UInt64(value)) { return request }
        }
        return nil
    }
}

/// CLOCK_MONOTONIC in nanoseconds.
func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

/// strerror text with the errno number.
func errnoText(_ code: Int32) -> String {
    String(cString: strerror(code)) + " (errno \(code))"
}
