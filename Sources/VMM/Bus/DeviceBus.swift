@_spi(ExitPath) import Devices

/// The port and MMIO buses of one machine, frozen before the vCPUs start: every field is a
/// `let`, so the exit path reads it without exclusivity checks or locks.
final class DeviceBus: @unchecked Sendable {
    // SAFETY (@unchecked Sendable): immutable after init; `owners` only keeps the devices alive
    // (they are Sendable classes themselves).
    let ports: PortMap
    let mmio: AddressRangeMap
    let devices: ContiguousArray<BusDevice>
    /// Strong references to every device `devices` points at without retaining.
    private let owners: [AnyObject]

    init(ports: PortMap, mmio: AddressRangeMap, devices: ContiguousArray<BusDevice>, owners: [AnyObject]) {
        self.ports = ports
        self.mmio = mmio
        self.devices = devices
        self.owners = owners
    }

    /// The device in `slot` (slots come from the builder, so they are always valid).
    @inline(__always)
    private func device(_ slot: UInt16) -> BusDevice {
        devices.withUnsafeBufferPointer { devices in
            // SAFETY: every slot in the maps was returned by DeviceBusBuilder.add for this array.
            devices[Int(slot)]
        }
    }

    /// Value of a read nothing answers: all ones, as on a PC.
    static let unclaimedRead: UInt64 = .max

    @inline(__always)
    func portWrite(port: UInt16, size: Int, value: UInt64) -> MachineRequest? {
        guard let hit = ports.lookup(port) else { return nil }
        return device(hit.slot).write(offset: hit.offset, size: size, value: value)
    }

    @inline(__always)
    func portRead(port: UInt16, size: Int) -> UInt64 {
        guard let hit = ports.lookup(port) else { return Self.unclaimedRead }
        return device(hit.slot).read(offset: hit.offset, size: size)
    }

    @inline(__always)
    func mmioWrite(address: UInt64, size: Int, value: UInt64) -> MachineRequest? {
        guard let hit = mmio.lookup(address) else { return nil }
        return device(hit.slot).write(offset: hit.offset, size: size, value: value)
    }

    @inline(__always)
    func mmioRead(address: UInt64, size: Int) -> UInt64 {
        guard let hit = mmio.lookup(address) else { return Self.unclaimedRead }
        return device(hit.slot).read(offset: hit.offset, size: size)
    }
}

/// Collects devices and their ranges while a machine is built.
struct DeviceBusBuilder {
    private var ports = AddressRangeMap()
    private var mmio = AddressRangeMap()
    private var devices: ContiguousArray<BusDevice> = []
    private var owners: [AnyObject] = []

    /// Adds `device` and returns its slot.
    mutating func add(_ attachment: BusAttachment) -> UInt16 {
        let (owner, device) = attachment.entry
        if let owner { owners.append(owner) }
        devices.append(device)
        return UInt16(devices.count - 1)
    }

    mutating func mapPorts(base: UInt16, length: UInt64, slot: UInt16, name: String) throws(BusError) {
        try ports.insert(base: UInt64(base), length: length, slot: slot, name: name)
    }

    mutating func mapMMIO(base: UInt64, length: UInt64, slot: UInt16, name: String) throws(BusError) {
        try mmio.insert(base: base, length: length, slot: slot, name: name)
    }

    func build() throws(BusError) -> DeviceBus {
        DeviceBus(ports: try PortMap(ports), mmio: mmio, devices: devices, owners: owners)
    }
}
