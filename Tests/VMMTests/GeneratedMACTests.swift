import Testing

@testable import VMM

@Suite struct GeneratedMACTests {
    @Test func generatedAddressesAreStableUnicastAndLocallyAdministered() {
        let interface = NetworkInterfaceConfiguration(tap: "tap0")
        let first = interface.macAddress(machineName: "web", index: 0)
        #expect(first == interface.macAddress(machineName: "web", index: 0), "the same on every run")
        #expect(first.count == 6 && first[0] == 0x02, "locally administered, unicast")
        #expect(first != interface.macAddress(machineName: "web", index: 1), "each interface its own")
        #expect(first != interface.macAddress(machineName: "db", index: 0), "each VM its own")
        let fixed = NetworkInterfaceConfiguration(tap: "tap0", mac: "02:11:22:33:44:55")
        #expect(fixed.macAddress(machineName: "web", index: 0) == [0x02, 0x11, 0x22, 0x33, 0x44, 0x55])
    }
}
