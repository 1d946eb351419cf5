/// The lifecycle of a `Machine`: created → running ⇄ paused → (stopping →) stopped.
public enum MachineState: Sendable, Equatable, CustomStringConvertible {
    /// Built, not started.
    case created
    /// vCPU threads are running the guest.
    case running
    /// `pause()`: the vCPUs are parked and the device queues are not served until `resume()`.
    case paused
    /// A stop was requested; vCPU threads are leaving the guest.
    case stopping
    /// Every vCPU thread has finished; `MachineExit` says why.
    case stopped(MachineExit)

    public var description: String {
        switch self {
        case .created: return "created"
        case .running: return "running"
        case .paused: return "paused"
        case .stopping: return "stopping"
        case .stopped(let exit): return "stopped (\(exit))"
        }
    }
}
