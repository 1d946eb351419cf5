/// The lifecycle of a `Machine`: created → running → (stopping →) stopped.
public enum MachineState: Sendable, Equatable, CustomStringConvertible {
    /// Built, not started.
    case created
    /// vCPU threads are running the guest.
    case running
    /// A stop was requested; vCPU threads are leaving the guest.
    case stopping
    /// Every vCPU thread has finished; `MachineExit` says why.
    case stopped(MachineExit)

    public var description: String {
        switch self {
        case .created: return "created"
        case .running: return "running"
        case .stopping: return "stopping"
        case .stopped(let exit): return "stopped (\(exit))"
        }
    }
}
