@_spi(ExitPath) @testable import Devices
@testable import GuestMemory

@testable import VMM

/// The platform devices as the exit path reaches them: the bus with the 16550, i8042, power
/// control, power button, debug exit and boot timer at their ports and addresses, driven with
/// port and MMIO accesses of every width at any address. The serial FIFO must stay bounded.
enum LegacyPortsFuzz {
    static func run(_ input: inout FuzzInput) {
        let serial = Serial16550(output: .discard, interrupt: nil)
        var builder = DeviceBusBuilder()
        do {
            try builder.mapPorts(
                base: DebugExitPort.defaultPort, length: DebugExitPort.length,
                slot: builder.add(.debugExit(DebugExitPort())), name: "debug-exit")
            try builder.mapPorts(
                base: Serial16550.com1Port, length: Serial16550.portCount, slot: builder.add(.serial(serial)),
                name: "COM1")
            try builder.mapPorts(
                base: PowerControl.defaultPort, length: PowerControl.length,
                slot: builder.add(.powerControl(PowerControl())), name: "power control")
            try builder.mapPorts(
                base: PowerButton.defaultPort, length: PowerButton.length,
                slot: builder.add(.powerButton(PowerButton(interrupt: nil))), name: "power button")
            try builder.mapPorts(
                base: I8042.commandPort, length: I8042.length, slot: builder.add(.i8042(I8042())), name: "i8042")
            try builder.mapMMIO(
                base: BootTimer.defaultAddress, length: BootTimer.length, slot: builder.add(.bootTimer(BootTimer())),
                name: "boot timer")
        } catch {
            fatalError("the fuzz bus could not be built: \(error)")
        }
        guard let bus = try? builder.build() else { fatalError("the fuzz bus could not be built") }
        var steps = 0
        while let operation = input.u8(), steps < 4096 {
            steps += 1
            let width = [1, 2, 4, 8][Int(operation >> 6)]
            switch operation % 4 {
            case 0:
                guard let port = input.u16(), let value = input.u32() else { return }
                _ = bus.portWrite(port: nearPlatformPort(port), size: width, value: UInt64(value))
            case 1:
                guard let port = input.u16() else { return }
                _ = bus.portRead(port: nearPlatformPort(port), size: width)
            case 2:
                guard let address = input.u64(), let value = input.u32() else { return }
                let target = address & 1 == 0 ? BootTimer.defaultAddress &+ (address >> 1) % 16 : address
                _ = bus.mmioWrite(address: target, size: width, value: UInt64(value))
            default:
                guard let address = input.u64() else { return }
                _ = bus.mmioRead(address: address, size: width)
            }
        }
        precondition(serial.receiveStorageBytes == Serial16550.receiveBufferLimit, "serial FIFO grew")
    }

    /// Mostly the ports the platform devices answer, sometimes any port.
    static func nearPlatformPort(_ value: UInt16) -> UInt16 {
        let ports: [UInt16] = [
            0x3f8, DebugExitPort.defaultPort, PowerControl.defaultPort, PowerButton.defaultPort, 0x60,
        ]
        return value & 0x8000 != 0 ? value : ports[Int(value % UInt16(ports.count))] &+ (value >> 8) % 8
    }
}
