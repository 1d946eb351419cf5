import PodNetwork
import Testing

@Suite struct IPv4Tests {
    @Test func parsesAndFormatsAddresses() {
        #expect(IPv4Address("10.0.2.1")?.value == 0x0A00_0201)
        #expect(IPv4Address(0xC0A8_0001).description == "192.168.0.1")
        for bad in ["", "10.0.2", "10.0.2.256", "10.0.2.01", "a.b.c.d", "10.0.2.1.5", "10..2.1", "+1.0.0.1"] {
            #expect(IPv4Address(bad) == nil, "\(bad)")
        }
    }

    @Test func subnets() throws {
        let subnet = try #require(IPv4Subnet("10.0.2.0/24"))
        #expect(subnet.mask.description == "255.255.255.0")
        #expect(subnet.broadcast.description == "10.0.2.255")
        #expect(subnet.address(offset: 2).description == "10.0.2.2")
        #expect(subnet.isHost(IPv4Address("10.0.2.1")!))
        #expect(!subnet.isHost(IPv4Address("10.0.2.0")!))
        #expect(!subnet.isHost(IPv4Address("10.0.2.255")!))
        #expect(!subnet.contains(IPv4Address("10.0.3.1")!))
        #expect(IPv4Subnet("10.0.2.1/24") == nil, "host bits set")
        #expect(IPv4Subnet("10.0.2.0/33") == nil)
        #expect(IPv4Subnet("0.0.0.0/0")?.mask == .any)
    }
}
