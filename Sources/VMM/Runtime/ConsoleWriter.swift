@_spi(ExitPath) import Devices
import EventLoop
import Threads
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// The console thread: moves the guest's console bytes from the serial port's bounded buffer
/// to the sink (stdout or a file), so vCPU threads never wait for the sink. Bytes are gathered
/// for up to `gatherMicroseconds` after the first one arrives, then written in chunks.
final class ConsoleWriter: Sendable {
    /// How long the writer lets bytes gather before writing them (a guest printing byte by byte
    /// then costs one write(2) per millisecond, not one per byte).
    static let gatherMicroseconds: UInt32 = 1000
    /// How long the final flush at stop may take when the sink is slow or stuck.
    static let finalFlushMilliseconds = 2000

    private let stopEvent: EventFD
    private let thread: OSThread

    /// Starts the thread for `output`; nil when the output needs none (it discards everything).
    init?(output: ConsoleOutput, seccomp: SeccompMode) throws {
        guard output.needsWriter, let dataAvailable = output.dataAvailable else { return nil }
        let stopEvent = try EventFD()
        self.stopEvent = stopEvent
        thread = try sandboxedThread(name: "vmm-console", profile: .console, seccomp: seccomp) {
            Self.run(output: output, dataAvailable: dataAvailable, stop: stopEvent)
        }
    }

    /// Flushes what is buffered (bounded by `finalFlushMilliseconds`), ends the thread and waits for it.
    func stop() {
        stopEvent.signal()
        thread.join()
    }

    private static func run(output: ConsoleOutput, dataAvailable: EventFD, stop: EventFD) {
        while true {
            _ = DescriptorIO.waitReadable(dataAvailable.rawValue, stop.rawValue, timeoutMilliseconds: -1)
            if stop.drain() != nil { break }
            _ = dataAvailable.drain()
            usleep(gatherMicroseconds)
            // A sink that does not take the bytes is retried; the stop event is checked between tries.
            while !output.drain(timeoutMilliseconds: 100) {
                if stop.drain() != nil {
                    finalFlush(output)
                    return
                }
            }
        }
        finalFlush(output)
    }

    private static func finalFlush(_ output: ConsoleOutput) {
        var waitedMilliseconds = 0
        while !output.drain(timeoutMilliseconds: 100), waitedMilliseconds < finalFlushMilliseconds {
            waitedMilliseconds += 100
        }
    }
}
