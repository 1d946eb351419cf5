import Logging
import VMM

/// Where the steps' own notes go (a signal, a reboot in place, the guest ready): plain
/// `swiftvmm: …` lines on stderr for `run` and `serve`, the pod's logger for `launch`. A value
/// handed to whoever notes, not a global.
public struct RunLog: Sendable {
    /// Writes one note.
    public let note: @Sendable (String) -> Void

    public init(note: @escaping @Sendable (String) -> Void) {
        self.note = note
    }

    /// `swiftvmm: TEXT` lines on stderr.
    public static let standardError = RunLog { text in writeStandardError("swiftvmm: \(text)\n") }

    /// Notices through `logger`.
    public init(logger: Logger) {
        self.init { text in logger.notice("\(text)") }
    }

    /// The machine's events as notes: the guest's boot-timer ready (the machine logs its state
    /// changes itself).
    public var events: @Sendable (MachineEvent) -> Void {
        { [note] event in
            switch event {
            case .guestReady(let nanoseconds):
                let milliseconds = Double(nanoseconds / 1000) / 1000
                note("guest ready (boot timer) \(milliseconds) ms after start")
            case .stateChanged, .powerButtonPressed:
                break
            }
        }
    }
}
