@_spi(ExitPath) import Devices
@_spi(ExitPath) import KVM

/// Where the answers to a vCPU's exits go: the vCPU's `kvm_run` page in the machine, a
/// recording double in tests.
protocol ExitCompletion {
    /// Element `element` of a `rep outs` (nil past the data KVM gave).
    func portOutValue(element: Int) -> UInt32?
    /// The value a port read returns (element `element` of a `rep ins`).
    func completePortIn(dataOffset: Int, size: Int, element: Int, value: UInt32)
    /// The value an MMIO read returns.
    func completeMMIORead(size: Int, value: UInt64)
}

extension VCPUFD: ExitCompletion {}

/// What the exit loop does after one exit.
enum ExitAction: Equatable {
    /// Enter the guest again.
    case resume
    /// KVM_RUN was interrupted (a kick or KVM_EXIT_INTR): check the stop and pause flags.
    case interrupted
    /// The run ends.
    case stop(VCPUStop)
}

/// One exit's handling, as a pure function of the exit and the bus (and the completion it
/// writes): port and MMIO accesses go to the bus, system events and failures end the run.
/// The vCPU loop calls it once per exit; tests call it with synthetic exits, without KVM.
enum ExitDispatch {
    // @_transparent, not @inline(__always): the optimizer kept the specialized generic as a
    // call (and ~60 more instructions per exit, callgrind); mandatory inlining puts it in the loop.
    @_transparent
    static func handle<Completion: ExitCompletion>(
        _ exit: VCPUExit, bus: DeviceBus, completion: Completion, counts: VCPUExitCounters
    ) -> ExitAction {
        switch exit {
        case .portOut(let port, let size, let count, let value):
            counts.countPortOut()
            if count == 1 {
                if let request = bus.portWrite(port: port, size: size, value: UInt64(value)) {
                    return .stop(.request(request))
                }
                return .resume
            }
            // `rep outs`: each element goes to the bus in order.
            for element in 0..<count {
                guard let value = completion.portOutValue(element: element) else { break }
                if let request = bus.portWrite(port: port, size: size, value: UInt64(value)) {
                    return .stop(.request(request))
                }
            }
            return .resume
        case .portIn(let port, let size, let count, let dataOffset):
            counts.countPortIn()
            for element in 0..<count {
                let value = UInt32(truncatingIfNeeded: bus.portRead(port: port, size: size))
                completion.completePortIn(dataOffset: dataOffset, size: size, element: element, value: value)
            }
            return .resume
        case .mmioWrite(let address, let size, let value):
            counts.countMMIOWrite()
            if let request = bus.mmioWrite(address: address, size: size, value: value) {
                return .stop(.request(request))
            }
            return .resume
        case .mmioRead(let address, let size):
            counts.countMMIORead()
            completion.completeMMIORead(size: size, value: bus.mmioRead(address: address, size: size))
            return .resume
        case .interrupted:
            return .interrupted
        case .halt:
            return .stop(.halted)
        case .shutdown:
            return .stop(.tripleFault)
        case .systemEvent(let event):
            switch event {
            case .shutdown: return .stop(.request(.powerOff))
            case .reset: return .stop(.request(.reset))
            case .crash: return .stop(.failure("the guest reported a crash (KVM_SYSTEM_EVENT_CRASH)"))
            case .other(let type): return .stop(.failure("unhandled KVM system event type \(type)"))
            }
        case .internalError(let suberror, let data):
            let detail = data.map { ", data 0x" + String($0, radix: 16) } ?? ""
            return .stop(
                .failure("KVM internal error, suberror \(suberror)\(detail) (KVM could not emulate an instruction)"))
        case .failEntry(let reason, let cpu):
            return .stop(.failure("VM entry failed, hardware reason 0x\(String(reason, radix: 16)) on host CPU \(cpu)"))
        case .exception(let number, let errorCode):
            return .stop(.failure("unhandled guest exception \(number), error code \(errorCode)"))
        case .unhandled(let reason):
            return .stop(.failure("unhandled KVM exit reason \(reason)"))
        case .malformed(let reason):
            return .stop(.failure("KVM exit reason \(reason) with data outside kvm_run"))
        }
    }
}
