import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Where `swiftvmm serve` writes its log lines, and how (PUT /logger): standard error until a
/// client names a file or named pipe; Firecracker's line form
/// `TIME [ID:LABEL(:LEVEL)(:FILE:LINE)] message`.
public final class FirecrackerLogSink: Sendable {
    struct Settings {
        var descriptor: Int32 = 2
        var level: Logger.Level? = .info
        var showLevel = false
        var showOrigin = false
        var module: String?
    }

    private let settings = Mutex(Settings())
    /// The instance id each line carries.
    public let instanceID: String

    public init(instanceID: String = "anonymous-instance") {
        self.instanceID = instanceID
    }

    /// The lowest level written, nil when logging is off.
    public var level: Logger.Level? { settings.withLock { $0.level } }

    /// Applies a PUT /logger: opens `log_path` (appending; a named pipe is opened without
    /// blocking) and takes the level and the line options.
    func configure(_ configuration: FirecrackerLoggerConfiguration) throws(FirecrackerFault) {
        var descriptor: Int32?
        if let path = configuration.logPath {
            switch LineFile.open(path) {
            case .success(let opened): descriptor = opened
            case .failure(let error): throw FirecrackerFault("Failed to open the log file \(path): \(error.reason).")
            }
        }
        settings.withLock { settings in
            if let descriptor {
                if settings.descriptor > 2 { close(settings.descriptor) }
                settings.descriptor = descriptor
            }
            if let level = configuration.level { settings.level = Self.level(level) }
            if let show = configuration.showLevel { settings.showLevel = show }
            if let show = configuration.showLogOrigin { settings.showOrigin = show }
            if let module = configuration.module { settings.module = module }
        }
    }

    static func level(_ level: FirecrackerLoggerConfiguration.Level) -> Logger.Level? {
        switch level {
        case .error: return .error
        case .warning: return .warning
        case .info: return .info
        case .debug: return .debug
        case .trace: return .trace
        case .off: return nil
        }
    }

    /// Writes one line for a message of `label` (a line is never split by another writer:
    /// one write(2) under the lock).
    func write(
        label: String, level: Logger.Level, message: String, file: String, line: UInt
    ) {
        settings.withLock { settings in
            guard let minimum = settings.level, level >= minimum else { return }
            if let module = settings.module, !label.hasPrefix(module) { return }
            var tags = "\(instanceID):\(label)"
            if settings.showLevel { tags += ":\(level.rawValue.uppercased())" }
            if settings.showOrigin { tags += ":\(file.split(separator: "/").last ?? ""):\(line)" }
            LineFile.append(Array("\(Self.timestamp()) [\(tags)] \(message)\n".utf8), to: settings.descriptor)
        }
    }

    /// UTC time as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnn`.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var time = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &time)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let nanoseconds = String(now.tv_nsec)
        let padded = String(repeating: "0", count: max(0, 9 - nanoseconds.count)) + nanoseconds
        return "\(time.tm_year + 1900)-\(two(time.tm_mon + 1))-\(two(time.tm_mday))T"
            + "\(two(time.tm_hour)):\(two(time.tm_min)):\(two(time.tm_sec)).\(padded)"
    }
}

/// A swift-log handler writing through a `FirecrackerLogSink` (bootstrap it once per process).
public struct FirecrackerLogHandler: LogHandler {
    public let label: String
    public let sink: FirecrackerLogSink
    public var metadata: Logger.Metadata = [:]

    public init(label: String, sink: FirecrackerLogSink) {
        self.label = label
        self.sink = sink
    }

    /// The sink's level (PUT /logger changes it for every logger at once); setting it here has
    /// no effect.
    public var logLevel: Logger.Level {
        get { sink.level ?? .critical }
        set {}
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var text = "\(event.message)"
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        if !merged.isEmpty {
            text += " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        sink.write(label: label, level: event.level, message: text, file: event.file, line: event.line)
    }
}
