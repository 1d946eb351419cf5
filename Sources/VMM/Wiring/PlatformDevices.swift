@_spi(ExitPath) import Devices
import EventLoop
@_spi(ExitPath) import KVM

#if canImport(Glibc)
    import Glibc
#endif

/// The platform devices every machine has: serial console, debug exit, power control, power
/// button and boot timer, with their interrupt lines.
struct PlatformDevices {
    let serial: Serial16550
    let powerButton: PowerButton
    let bootTimer: BootTimer
    /// irqfds (serial, power button), kept open as long as the VM.
    let interruptLines: [EventFD]

    /// Creates the devices, wires their interrupts (with the irqchip) and maps them on `bus`.
    static func attach(
        to bus: inout DeviceBusBuilder, layout: MachineLayout, vm: VirtualMachineFD, console: ConsoleOutput,
        irqchip: Bool, onGuestReady: (@Sendable (UInt64) -> Void)?
    ) throws -> PlatformDevices {
        var lines: [EventFD] = []
        func interruptLine(gsi: UInt32) throws -> EventFD? {
            guard irqchip else { return nil }
            let line = try EventFD()
            try vm.registerIRQEvent(eventFD: line.rawValue, gsi: gsi)
            lines.append(line)
            return line
        }
        let serial = Serial16550(output: console, interrupt: try interruptLine(gsi: layout.serialGSI))
        let powerButton = PowerButton(interrupt: try interruptLine(gsi: layout.powerButtonGSI))
        let bootTimer = BootTimer(onReady: onGuestReady)

        try bus.mapPorts(
            base: layout.debugExitPort, length: DebugExitPort.length,
            slot: bus.add(.debugExit(DebugExitPort())),
            name: "debug-exit port")
        try bus.mapPorts(
            base: layout.serialPort, length: Serial16550.portCount, slot: bus.add(.serial(serial)),
            name: "COM1 serial")
        try bus.mapPorts(
            base: layout.powerControlPort, length: PowerControl.length, slot: bus.add(.powerControl(PowerControl())),
            name: "power control")
        try bus.mapPorts(
            base: layout.powerButtonPort, length: PowerButton.length, slot: bus.add(.powerButton(powerButton)),
            name: "power button")
        try bus.mapPorts(base: layout.i8042Port, length: I8042.length, slot: bus.add(.i8042(I8042())), name: "i8042")
        try bus.mapMMIO(
            base: layout.bootTimerAddress, length: BootTimer.length, slot: bus.add(.bootTimer(bootTimer)),
            name: "boot timer")
        return PlatformDevices(serial: serial, powerButton: powerButton, bootTimer: bootTimer, interruptLines: lines)
    }

    /// The console sink the configuration names: `file` is the console file opened for it
    /// (`openConsoleFile`), kept across boots; the others need nothing opened.
    static func consoleOutput(_ console: ConsoleConfiguration, stream: MachineConsole?, file: ConsoleOutput?)
        -> ConsoleOutput
    {
        switch console {
        case .stdio: return .standardOutput
        case .none: return .discard
        case .stream:
            guard let stream else { return .discard }
            return ConsoleOutput { stream.deliver($0) }
        case .fileDescriptor(_, let write):
            guard let write else { return .discard }
            return ConsoleOutput(borrowing: write)
        case .file: return file ?? .discard
        }
    }

    /// Opens the console file when the configuration names one.
    static func openConsoleFile(_ console: ConsoleConfiguration) throws(MachineError) -> ConsoleOutput? {
        guard case .file(let path, _) = console else { return nil }
        // Not through a link, without blocking (a named pipe needs its reader already), created
        // 0600; ConsoleOutput copes with a full pipe (EAGAIN).
        switch HostOutputFile.openForAppending(path) {
        case .success(let fd):
            return ConsoleOutput(taking: fd, limitBytes: console.fileLimitBytes)
        case .failure(let error):
            throw MachineError(
                code: .fileUnreadable, field: "console", message: "console: cannot write to '\(path)': \(error)",
                cause: error.cause)
        }
    }
}
