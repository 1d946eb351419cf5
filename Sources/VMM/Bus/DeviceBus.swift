import Devices

/// The port and MMIO buses of one machine, frozen before the vCPUs start: every field is a
/// `let`, so the exit path reads it without exclusivity checks or locks.
final class DeviceBus: Sendable {
    let ports: AddressRangeMap
    let mmio: AddressRangeMap
    let devices: ContiguousArray<BusDevice>

    init(ports: AddressRangeMap, mmio: AddressRangeMap, devices: ContiguousArray<BusDevice>) {
        self.ports = ports
        self.mmio = mmio
        self.devices = devices
    }

    /// Value of a read nothing answers: all ones, as on a PC.
    static let unclaimedRead: UInt64 = .max

    @inline(__always)
    func portWrite(port: UInt16, size: Int, value: UInt64) -> MachineRequest? {
        guard let hit = ports.lookup(UInt64(port)) else { return nil }
        return devices[Int(hit.slot)].write(offset: hit.offset, size: size, value: value)
    }

    @inline(__always)
    func portRead(port: UInt16, size: Int) -> UInt64 {
        guard let hit = ports.lookup(UInt64(port)) else { return Self.unclaimedRead }
        return devices[Int(hit.slot)].read(offset: hit.offset, size: size)
    }

    @inline(__always)
    func mmioWrite(address: UInt64, size: Int, value: UInt64) -> MachineRequest? {
        guard let hit = mmio.lookup(address) else { return nil }
        return devices[Int(hit.slot)].write(offset: hit.offset, size: size, value: value)
    }

    @inline(__always)
    func mmioRead(address: UInt64, size: Int) -> UInt64 {
        guard let hit = mmio.lookup(address) else { return Self.unclaimedRead }
        return devices[Int(hit.slot)].read(offset: hit.offset, size: size)
    }
}

/// Collects devices and their ranges while a machine is built.
struct DeviceBusBuilder {
    private var ports = AddressRangeMap()
    private var mmio = AddressRangeMap()
    private var devices: ContiguousArray<BusDevice> = []

    /// Adds `device` and returns its slot.
    mutating func add(_ device: BusDevice) -> UInt16 {
        devices.append(device)
        return UInt16(devices.count - 1)
    }

    mutating func mapPorts(base: UInt16, length: UInt64, slot: UInt16, name: String) throws(BusError) {
        try ports.insert(base: UInt64(base), length: length, slot: slot, name: name)
    }

    mutating func mapMMIO(base: UInt64, length: UInt64, slot: UInt16, name: String) throws(BusError) {
        try mmio.insert(base: base, length: length, slot: slot, name: name)
    }

    func build() -> DeviceBus {
        DeviceBus(ports: ports, mmio: mmio, devices: devices)
    }
}
