import VMM

#if canImport(Glibc)
    import Glibc
#endif

/// An error that ends a command with a one-line message and a specific exit status
/// (`ExitStatus`).
public struct CommandFailure: Error, Equatable {
    public let message: String
    public let status: Int32

    public init(_ error: MachineError) {
        message = error.description
        status = error.exitStatus
    }

    public init(message: String, status: Int32) {
        self.message = message
        self.status = status
    }

    /// Prints `swiftvmm: error: MESSAGE` as one line on stderr and exits with the status.
    public func endProcess() -> Never {
        let line = message.split(whereSeparator: \.isNewline).joined(separator: "; ")
        writeStandardError("swiftvmm: error: \(line)\n")
        Glibc.exit(status)
    }
}

/// A step of `run`, `launch` or `serve`.
typealias Step = PipelineStep<CommandFailure>
