/// How a machine's run ended.
public enum MachineExit: Sendable, Equatable, CustomStringConvertible {
    /// The guest powered off.
    case poweredOff
    /// The guest asked for a reset (reboot).
    case reset
    /// The guest reported `status` through the debug-exit port.
    case guestStatus(UInt32)
    /// A vCPU executed HLT with no interrupt controller to wake it (only without the irqchip).
    case halted(vcpu: Int)
    /// A vCPU hit a triple fault (KVM_EXIT_SHUTDOWN); `registers` is its register dump.
    case tripleFault(vcpu: Int, registers: String)
    /// KVM could not run a vCPU: internal error, failed entry or an exit SwiftVMM does not handle.
    case vcpuFailure(vcpu: Int, reason: String, registers: String)
    /// The run was stopped from outside (`Machine.stop()`), not by the guest.
    case stopped
    /// The VMM itself failed while the guest ran.
    case vmmError(String)

    public var description: String {
        switch self {
        case .poweredOff: return "guest powered off"
        case .reset: return "guest reset"
        case .guestStatus(let status): return "guest reported status \(status) through the debug-exit port"
        case .halted(let vcpu): return "vCPU \(vcpu) halted with no interrupt controller to wake it"
        case .tripleFault(let vcpu, let registers): return "vCPU \(vcpu) triple fault (KVM_EXIT_SHUTDOWN)\n\(registers)"
        case .vcpuFailure(let vcpu, let reason, let registers): return "vCPU \(vcpu) failed: \(reason)\n\(registers)"
        case .stopped: return "stopped by request"
        case .vmmError(let text): return "VMM error: \(text)"
        }
    }
}
