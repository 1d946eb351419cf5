/// What a device asks of the machine after a guest access, besides completing it.
/// SPI-public for cross-module inlining on the exit path (see `VCPUFD` in KVM).
@_spi(ExitPath) public enum MachineRequest: Sendable, Equatable {
    /// The guest reported `status` through the debug-exit port and wants the run to end.
    case guestExit(status: UInt32)
    /// The guest asked to power off.
    case powerOff
    /// The guest asked to reset (reboot).
    case reset
}
