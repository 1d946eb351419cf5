import Testing

@testable import HostNetwork

/// The interface operations that need no privilege, on the loopback interface.
@Suite struct NetworkInterfaceTests {
    @Test func theLoopbackIsFoundWithItsAddress() throws {
        #expect(NetworkInterface.index(of: "lo") != nil)
        #expect(NetworkInterface.index(of: "nosuchif0") == nil)
        let loopback = try NetworkInterface.ipv4(of: "lo")
        #expect(loopback.address == 0x7F00_0001 && loopback.netmask == 0xFF00_0000 && loopback.mtu > 0)
    }

    @Test func aMissingInterfaceIsAnErrno() {
        #expect(throws: InterfaceError.self) { try NetworkInterface.ipv4(of: "nosuchif0") }
        #expect(throws: InterfaceError.self) { try NetworkInterface.delete("nosuchif0") }
    }
}
