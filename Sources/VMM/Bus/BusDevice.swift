@_spi(ExitPath) import Devices
@_spi(ExitPath) import Virtio

/// Every device kind that can sit on the port or MMIO bus. A closed enum, so the vCPU exit path
/// dispatches with a `switch` — no existential, closure or dictionary per exit.
///
/// The payloads are unretained (`Unmanaged`): the `DeviceBus` that holds these values also
/// holds a strong reference to every device for its whole life, so the exit path calls devices
/// without a retain/release pair per exit.
enum BusDevice: Sendable {
    case debugExit(Unmanaged<DebugExitPort>)
    case probe(Unmanaged<ExitProbe>)
    case serial(Unmanaged<Serial16550>)
    case powerControl(Unmanaged<PowerControl>)
    case powerButton(Unmanaged<PowerButton>)
    case bootTimer(Unmanaged<BootTimer>)
    case i8042(Unmanaged<I8042>)
    case virtioMMIO(Unmanaged<VirtioMMIOTransport>)
    /// A range KVM handles in the kernel (irqchip, PIT): registered so that nothing else can
    /// claim it; accesses never reach user space.
    case kernelOwned

    @inline(__always)
    func write(offset: UInt64, size: Int, value: UInt64) -> MachineRequest? {
        // SAFETY (every case): the DeviceBus owning this value keeps the device alive (see above).
        switch self {
        case .debugExit(let device):
            return device._withUnsafeGuaranteedRef { $0.write(offset: offset, size: size, value: value) }
        case .probe(let device):
            return device._withUnsafeGuaranteedRef { $0.write(offset: offset, size: size, value: value) }
        case .serial(let device):
            return device._withUnsafeGuaranteedRef { $0.write(offset: offset, size: size, value: value) }
        case .powerControl(let device):
            return device._withUnsafeGuaranteedRef { $0.write(offset: offset, size: size, value: value) }
        case .powerButton(let device):
            return device._withUnsafeGuaranteedRef { $0.write(offset: offset, size: size, value: value) }
        case .bootTimer(let device):
            return device._withUnsafeGuaranteedRef { $0.write(offset: offset, size: size, value: value) }
        case .i8042(let device):
            return device._withUnsafeGuaranteedRef { $0.write(offset: offset, size: size, value: value) }
        case .virtioMMIO(let transport):
            transport._withUnsafeGuaranteedRef { $0.write(offset: offset, size: size, value: value) }
            return nil
        case .kernelOwned:
            return nil
        }
    }

    @inline(__always)
    func read(offset: UInt64, size: Int) -> UInt64 {
        // SAFETY (every case): the DeviceBus owning this value keeps the device alive (see above).
        switch self {
        case .debugExit(let device): return device._withUnsafeGuaranteedRef { $0.read(offset: offset, size: size) }
        case .probe(let device): return device._withUnsafeGuaranteedRef { $0.read(offset: offset, size: size) }
        case .serial(let device): return device._withUnsafeGuaranteedRef { $0.read(offset: offset, size: size) }
        case .powerControl(let device): return device._withUnsafeGuaranteedRef { $0.read(offset: offset, size: size) }
        case .powerButton(let device): return device._withUnsafeGuaranteedRef { $0.read(offset: offset, size: size) }
        case .bootTimer(let device): return device._withUnsafeGuaranteedRef { $0.read(offset: offset, size: size) }
        case .i8042(let device): return device._withUnsafeGuaranteedRef { $0.read(offset: offset, size: size) }
        case .virtioMMIO(let transport):
            return transport._withUnsafeGuaranteedRef { $0.read(offset: offset, size: size) }
        case .kernelOwned: return DeviceBus.unclaimedRead
        }
    }
}

/// A device to put on the bus, held strongly until the bus is built.
enum BusAttachment {
    case debugExit(DebugExitPort)
    case probe(ExitProbe)
    case serial(Serial16550)
    case powerControl(PowerControl)
    case powerButton(PowerButton)
    case bootTimer(BootTimer)
    case i8042(I8042)
    case virtioMMIO(VirtioMMIOTransport)
    case kernelOwned

    /// The strong reference the bus keeps, and the unretained entry the exit path uses.
    var entry: (owner: AnyObject?, device: BusDevice) {
        switch self {
        case .debugExit(let device): return (device, .debugExit(.passUnretained(device)))
        case .probe(let device): return (device, .probe(.passUnretained(device)))
        case .serial(let device): return (device, .serial(.passUnretained(device)))
        case .powerControl(let device): return (device, .powerControl(.passUnretained(device)))
        case .powerButton(let device): return (device, .powerButton(.passUnretained(device)))
        case .bootTimer(let device): return (device, .bootTimer(.passUnretained(device)))
        case .i8042(let device): return (device, .i8042(.passUnretained(device)))
        case .virtioMMIO(let transport): return (transport, .virtioMMIO(.passUnretained(transport)))
        case .kernelOwned: return (nil, .kernelOwned)
        }
    }
}
