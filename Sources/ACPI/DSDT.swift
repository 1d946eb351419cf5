/// The Differentiated System Description Table (revision 2: 64-bit integers), its AML built by
/// ``AML``:
///
/// ```
/// Scope (\_SB) {
///     Device (COM1) { _HID EISAID("PNP0501"), _UID 1, _CRS { IO 0x3F8/8, Interrupt 4 } }
///     Device (VR00) { _HID "LNRO0005", _UID 0, _CRS { Memory32Fixed base/size, Interrupt gsi } }  …
///     Device (PWRB) { _HID EISAID("PNP0C0C"), _UID 0 }
///     Device (GED0) {
///         _HID "ACPI0013", _UID 0, _CRS { Interrupt 23 }
///         OperationRegion (PBER, SystemIO, 0x610, 8); Field { PBST 32, PBID 32 }
///         Method (_EVT, 1, Serialized) {      // Linux's GED driver calls it with the GSI
///             Local0 = PBST
///             If ((Local0 & One) == One) { PBST = One; Notify (\_SB.PWRB, 0x80) }
///         }
///     }
/// }
/// Name (_S5, Package () { 5, 5, 0, 0 })
/// ```
package struct DSDT: Sendable, Equatable {
    package var platform: ACPIPlatform
    /// Described as VR00, VR01, … (two hex digits), `_UID` the index.
    package var virtioDevices: [VirtioMMIODeviceDescription]

    /// At most 256 virtio-mmio devices (VR00…VRFF).
    package static let maximumVirtioDeviceCount = 256

    package init(platform: ACPIPlatform = ACPIPlatform(), virtioDevices: [VirtioMMIODeviceDescription]) {
        self.platform = platform
        self.virtioDevices = virtioDevices
    }

    /// The table; throws when a device does not fit the 32-bit descriptors or there are too many.
    package func bytes() throws(ACPIError) -> [UInt8] {
        var devices: [[UInt8]] = []
        if let port = platform.serialPort {
            devices.append(
                try AML.device(
                    "COM1",
                    [
                        try AML.name("_HID", AML.eisaIDInteger("PNP0501")),
                        try AML.name("_UID", AML.one),
                        try AML.name(
                            "_CRS",
                            AML.resourceTemplate([
                                .io(base: port, length: 8),
                                .interrupt(gsis: [platform.serialIRQ], trigger: .edge, polarity: .activeHigh),
                            ])),
                    ]))
        }
        guard virtioDevices.count <= DSDT.maximumVirtioDeviceCount else {
            throw .invalid("DSDT: \(virtioDevices.count) virtio-mmio devices, at most \(DSDT.maximumVirtioDeviceCount)")
        }
        for (index, device) in virtioDevices.enumerated() {
            devices.append(try virtioDevice(device, index: index))
        }
        devices.append(
            try AML.device(
                "PWRB",
                [
                    try AML.name("_HID", AML.eisaIDInteger("PNP0C0C")),
                    try AML.name("_UID", AML.zero),
                ]))
        devices.append(try genericEventDevice())
        let aml =
            try AML.scope("\\_SB", devices)
            + AML.name(
                "_S5",
                AML.package([
                    AML.integer(UInt64(platform.s5SleepType)), AML.integer(UInt64(platform.s5SleepType)),
                    AML.zero, AML.zero,
                ]))
        return systemDescriptionTable(signature: "DSDT", revision: 2, body: aml)
    }

    private func virtioDevice(_ device: VirtioMMIODeviceDescription, index: Int) throws(ACPIError) -> [UInt8] {
        let (end, overflow) = device.base.addingReportingOverflow(device.size)
        guard device.size > 0, !overflow, end <= 0x1_0000_0000 else {
            throw .invalid(
                "DSDT: virtio-mmio device \(index) at 0x\(String(device.base, radix: 16)) size "
                    + "0x\(String(device.size, radix: 16)) must be non-empty and lie below 4 GiB")
        }
        let hexDigits = Array("0123456789ABCDEF")
        let name = "VR" + String(hexDigits[index >> 4]) + String(hexDigits[index & 0xF])
        return try AML.device(
            name,
            [
                try AML.name("_HID", AML.string("LNRO0005")),
                try AML.name("_UID", AML.integer(UInt64(index))),
                try AML.name(
                    "_CRS",
                    AML.resourceTemplate([
                        .memory32Fixed(base: UInt32(device.base), length: UInt32(device.size)),
                        .interrupt(gsis: [device.gsi], trigger: .edge, polarity: .activeHigh),
                    ])),
            ])
    }

    /// The Generic Event Device (ACPI0013) signalling power-button presses.
    private func genericEventDevice() throws(ACPIError) -> [UInt8] {
        let status = try AML.nameString("PBST")
        return try AML.device(
            "GED0",
            [
                try AML.name("_HID", AML.string("ACPI0013")),
                try AML.name("_UID", AML.zero),
                try AML.name(
                    "_CRS",
                    AML.resourceTemplate([
                        .interrupt(gsis: [platform.powerButtonGSI], trigger: .edge, polarity: .activeHigh)
                    ])),
                try AML.operationRegion(
                    "PBER", space: .systemIO, offset: UInt64(platform.powerButtonPort), length: 8),
                try AML.field("PBER", access: .dword, [.named("PBST", bits: 32), .named("PBID", bits: 32)]),
                try AML.method(
                    "_EVT", argumentCount: 1, serialized: true,
                    [
                        AML.store(status, try AML.local(0)),
                        try AML.ifStatement(
                            AML.lEqual(AML.and(try AML.local(0), AML.one), AML.one),
                            [
                                AML.store(AML.one, status),
                                AML.notify(try AML.nameString("\\_SB.PWRB"), AML.integer(0x80)),
                            ]),
                    ]),
            ])
    }
}
