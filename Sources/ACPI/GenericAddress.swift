/// A Generic Address Structure (ACPI 6.5, section 5.2.3.2): 12 bytes naming a register.
package struct GenericAddress: Sendable, Equatable {
    /// Address space ID: 0 system memory, 1 system I/O.
    package var addressSpace: UInt8
    package var bitWidth: UInt8
    package var bitOffset: UInt8
    /// Access size: 0 undefined, 1 byte, 2 word, 3 dword, 4 qword.
    package var accessSize: UInt8
    package var address: UInt64

    package init(addressSpace: UInt8, bitWidth: UInt8, bitOffset: UInt8 = 0, accessSize: UInt8, address: UInt64) {
        self.addressSpace = addressSpace
        self.bitWidth = bitWidth
        self.bitOffset = bitOffset
        self.accessSize = accessSize
        self.address = address
    }

    /// An 8-bit register at an I/O `port`, accessed by bytes.
    package static func ioPort8(_ port: UInt16) -> GenericAddress {
        GenericAddress(addressSpace: 1, bitWidth: 8, accessSize: 1, address: UInt64(port))
    }

    /// The structure with every field 0 (register not present).
    package static let none = GenericAddress(addressSpace: 0, bitWidth: 0, accessSize: 0, address: 0)

    /// The 12 bytes.
    package func bytes() -> [UInt8] {
        var bytes: [UInt8] = [addressSpace, bitWidth, bitOffset, accessSize]
        bytes.appendLittleEndian(address)
        return bytes
    }
}
