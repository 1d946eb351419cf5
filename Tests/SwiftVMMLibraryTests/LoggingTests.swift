import Logging
import Synchronization
import Testing
import VMM

/// The library logs through the Logger it is given, with the machine's name as metadata.
@Suite(.enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
struct LoggingTests {
    @Test func lifecycleIsLoggedWithTheMachinesName() async throws {
        let records = LogRecords()
        var logger = Logger(label: "test") { _ in records }
        logger.logLevel = .debug
        let machine = try Machine(configuration: firmware("fw.wait=button", name: "logged"), logger: logger)
        try machine.start()
        try machine.pause()
        try machine.resume()
        #expect(try await machine.requestStop(grace: .seconds(30)) == .poweredOff)
        let messages = records.all.map(\.message)
        for expected in [
            "machine created", "machine started", "machine paused", "machine resumed", "power button pressed",
            "machine stopped",
        ] {
            #expect(messages.contains(expected), "\(expected) in \(messages)")
        }
        #expect(records.all.allSatisfy { $0.metadata["vm"] == "logged" })
    }
}

/// A log handler that keeps what it is given.
final class LogRecords: LogHandler, Sendable {
    struct Record: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }
    private let records = Mutex<[Record]>([])
    private let state = Mutex<(Logger.Metadata, Logger.Level)>(([:], .trace))

    var all: [Record] { records.withLock { $0 } }

    var metadata: Logger.Metadata {
        get { state.withLock { $0.0 } }
        set { state.withLock { $0.0 = newValue } }
    }
    var logLevel: Logger.Level {
        get { state.withLock { $0.1 } }
        set { state.withLock { $0.1 = newValue } }
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        records.withLock {
            $0.append(Record(level: event.level, message: "\(event.message)", metadata: merged.mapValues { "\($0)" }))
        }
    }
}
