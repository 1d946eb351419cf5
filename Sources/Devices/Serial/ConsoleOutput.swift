#if canImport(Glibc)
    import Glibc
#endif

/// Where guest console bytes go: a file descriptor (stdout or a file), or nowhere.
public final class ConsoleOutput: Sendable {
    private let descriptor: Int32?
    private let ownsDescriptor: Bool

    /// Discards everything.
    public static let discard = ConsoleOutput(descriptor: nil, owns: false)

    private init(descriptor: Int32?, owns: Bool) {
        self.descriptor = descriptor
        self.ownsDescriptor = owns
    }

    /// Writes to this process's standard output (not closed).
    public static var standardOutput: ConsoleOutput { ConsoleOutput(descriptor: 1, owns: false) }

    /// Writes to `descriptor`, which this object closes when released.
    public convenience init(taking descriptor: Int32) {
        self.init(descriptor: descriptor, owns: true)
    }

    deinit {
        if ownsDescriptor, let descriptor { close(descriptor) }
    }

    /// Writes `bytes` completely (retrying short writes and EINTR); drops them if the sink fails.
    public func write(_ bytes: [UInt8]) {
        guard let descriptor else { return }
        var offset = 0
        while offset < bytes.count {
            // SAFETY: write(2) reads the remaining `count - offset` bytes of the array during the call.
            let written = bytes.withUnsafeBytes { buffer in
                Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}
