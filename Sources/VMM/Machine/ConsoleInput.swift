import Devices
import EventLoop
import KVM
import Sandbox

#if canImport(Glibc)
    import Glibc
#endif

/// Feeds this process's standard input to the serial port, on its own thread, while the
/// machine runs. Used when the console is `stdio` and stdin is a terminal, pipe or socket
/// (not /dev/null or a regular file). Input is passed through as the terminal delivers it
/// (line by line unless the caller put the terminal in raw mode).
final class ConsoleInput: Sendable {
    private let stopEvent: EventFD
    private let thread: OSThread

    /// Whether standard input is something a person or program types into.
    static var standardInputIsInteractive: Bool {
        var status = stat()
        guard fstat(0, &status) == 0 else { return false }
        switch status.st_mode & S_IFMT {
        case S_IFIFO, S_IFSOCK: return true
        case S_IFCHR: return isatty(0) == 1
        default: return false
        }
    }

    init(serial: Serial16550, seccomp: SeccompMode) throws {
        let stopEvent = try EventFD()
        self.stopEvent = stopEvent
        thread = try sandboxedThread(name: "console-input", profile: .consoleInput, seccomp: seccomp) {
            Self.pump(serial: serial, stop: stopEvent)
        }
    }

    /// Ends the thread and waits for it.
    func stop() {
        stopEvent.signal()
        thread.join()
    }

    private static func pump(serial: Serial16550, stop: EventFD) {
        var descriptors = [
            pollfd(fd: 0, events: Int16(POLLIN), revents: 0),
            pollfd(fd: stop.rawValue, events: Int16(POLLIN), revents: 0),
        ]
        var pending: [UInt8] = []
        while true {
            // While the guest has not read what we gave it, poll only the stop event (10 ms ticks).
            let watchInput = pending.isEmpty
            descriptors[0].fd = watchInput ? 0 : -1
            let ready = poll(&descriptors, 2, watchInput ? -1 : 10)
            if ready < 0, errno != EINTR { return }
            if descriptors[1].revents != 0 { return }
            if !pending.isEmpty {
                let accepted = serial.enqueueInput(pending)
                pending.removeFirst(accepted)
                continue
            }
            guard descriptors[0].revents != 0 else { continue }
            let input = DescriptorIO.read(0, maximumCount: 1024)
            if case .failure(let error) = input, error.errno == EAGAIN { continue }
            guard case .success(let bytes) = input, !bytes.isEmpty else { return }  // end of input or an error
            pending = bytes
            pending.removeFirst(serial.enqueueInput(pending))
        }
    }
}
