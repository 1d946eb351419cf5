import Devices
import Virtio

/// Every device kind that can sit on the port or MMIO bus. A closed enum, so the vCPU exit path
/// dispatches with a `switch` — no existential, closure or dictionary per exit.
enum BusDevice: Sendable {
    case debugExit(DebugExitPort)
    case probe(ExitProbe)
    case serial(Serial16550)
    case powerControl(PowerControl)
    case powerButton(PowerButton)
    case bootTimer(BootTimer)
    case virtioMMIO(VirtioMMIOTransport)
    /// A range KVM handles in the kernel (irqchip, PIT): registered so that nothing else can
    /// claim it; accesses never reach user space.
    case kernelOwned

    @inline(__always)
    func write(offset: UInt64, size: Int, value: UInt64) -> MachineRequest? {
        switch self {
        case .debugExit(let device): return device.write(offset: offset, size: size, value: value)
        case .probe(let device): return device.write(offset: offset, size: size, value: value)
        case .serial(let device): return device.write(offset: offset, size: size, value: value)
        case .powerControl(let device): return device.write(offset: offset, size: size, value: value)
        case .powerButton(let device): return device.write(offset: offset, size: size, value: value)
        case .bootTimer(let device): return device.write(offset: offset, size: size, value: value)
        case .virtioMMIO(let transport):
            transport.write(offset: offset, size: size, value: value)
            return nil
        case .kernelOwned: return nil
        }
    }

    @inline(__always)
    func read(offset: UInt64, size: Int) -> UInt64 {
        switch self {
        case .debugExit(let device): return device.read(offset: offset, size: size)
        case .probe(let device): return device.read(offset: offset, size: size)
        case .serial(let device): return device.read(offset: offset, size: size)
        case .powerControl(let device): return device.read(offset: offset, size: size)
        case .powerButton(let device): return device.read(offset: offset, size: size)
        case .bootTimer(let device): return device.read(offset: offset, size: size)
        case .virtioMMIO(let transport): return transport.read(offset: offset, size: size)
        case .kernelOwned: return DeviceBus.unclaimedRead
        }
    }
}
