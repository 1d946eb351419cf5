/// Trigger mode of an interrupt.
package enum InterruptTrigger: Sendable, Equatable { case edge, level }
/// Polarity of an interrupt.
package enum InterruptPolarity: Sendable, Equatable { case activeHigh, activeLow }
/// Whether an interrupt may be shared with other devices.
package enum InterruptSharing: Sendable, Equatable { case exclusive, shared }

/// One resource descriptor of a `ResourceTemplate` (ACPI 6.5, section 6.4), as `_CRS` returns them.
package enum ResourceDescriptor: Sendable, Equatable {
    /// Memory32Fixed (large item 0x86): `length` bytes at `base`, read-write unless `writable` is false.
    case memory32Fixed(base: UInt32, length: UInt32, writable: Bool = true)
    /// `IO(Decode16, base, base, 1, length)`: the I/O port descriptor (small item 0x47) for a fixed
    /// range — minimum and maximum both `base`, alignment 1, 16-bit decode.
    case io(base: UInt16, length: UInt8)
    /// `FixedIO(base, length)`: the fixed-location I/O port descriptor (small item 0x4B, 10-bit decode).
    case fixedIO(base: UInt16, length: UInt8)
    /// `Interrupt(ResourceConsumer, trigger, polarity, sharing) { gsi, … }`: the extended interrupt
    /// descriptor (large item 0x89), without a resource source.
    case interrupt(
        gsis: [UInt32], trigger: InterruptTrigger, polarity: InterruptPolarity,
        sharing: InterruptSharing = .exclusive, consumer: Bool = true, wakeCapable: Bool = false)

    /// The descriptor's bytes.
    package func bytes() throws(ACPIError) -> [UInt8] {
        var bytes: [UInt8] = []
        switch self {
        case .memory32Fixed(let base, let length, let writable):
            bytes = [0x86]
            bytes.appendLittleEndian(UInt16(9))
            bytes.append(writable ? 1 : 0)
            bytes.appendLittleEndian(base)
            bytes.appendLittleEndian(length)
        case .io(let base, let length):
            bytes = [0x47, 0x01]
            bytes.appendLittleEndian(base)
            bytes.appendLittleEndian(base)
            bytes += [0x01, length]
        case .fixedIO(let base, let length):
            guard base <= 0x3FF else { throw .invalid("FixedIO base \(base) exceeds the 10-bit range 0...0x3FF") }
            bytes = [0x4B]
            bytes.appendLittleEndian(base)
            bytes.append(length)
        case .interrupt(let gsis, let trigger, let polarity, let sharing, let consumer, let wakeCapable):
            guard (1...255).contains(gsis.count) else {
                throw .invalid("an extended interrupt descriptor holds 1 to 255 interrupts, not \(gsis.count)")
            }
            var flags: UInt8 = consumer ? 0x01 : 0
            if trigger == .edge { flags |= 0x02 }
            if polarity == .activeLow { flags |= 0x04 }
            if sharing == .shared { flags |= 0x08 }
            if wakeCapable { flags |= 0x10 }
            bytes = [0x89]
            bytes.appendLittleEndian(UInt16(2 + 4 * gsis.count))
            bytes += [flags, UInt8(gsis.count)]
            for gsi in gsis { bytes.appendLittleEndian(gsi) }
        }
        return bytes
    }
}

extension AML {
    /// The End Tag (small item 0x79) closing a resource template whose other bytes are
    /// `precedingBytes`; its checksum byte makes the whole template sum to 0 modulo 256.
    package static func endTag(after precedingBytes: [UInt8]) -> [UInt8] {
        [0x79, acpiChecksum(precedingBytes + [0x79])]
    }

    /// `ResourceTemplate() { descriptors }`: a Buffer of the descriptors and a checksummed End Tag.
    package static func resourceTemplate(_ descriptors: [ResourceDescriptor]) throws(ACPIError) -> [UInt8] {
        var body: [UInt8] = []
        for descriptor in descriptors { body += try descriptor.bytes() }
        return try buffer(body + endTag(after: body))
    }
}
