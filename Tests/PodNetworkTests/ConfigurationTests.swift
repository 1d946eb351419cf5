import FoundationEssentials
import PodNetwork
import Testing

@Suite struct ConfigurationTests {
    private func decode(_ json: String) throws -> PodNetworkConfiguration {
        try JSONDecoder().decode(PodNetworkConfiguration.self, from: Data(json.utf8))
    }

    /// The message of the PodNetworkError `json` is refused with (an invalid value naming its key).
    private func refusal(_ json: String) -> String? {
        do {
            _ = try decode(json)
            return nil
        } catch let error as PodNetworkError {
            guard error.code == .invalidValue, let field = error.field, error.message.hasPrefix(field) else {
                return "not an invalid value naming its key: \(error)"
            }
            return error.description
        } catch {
            return "\(error)"
        }
    }

    @Test func defaults() throws {
        let configuration = try decode("{}")
        #expect(configuration.subnet.description == "10.0.2.0/24")
        #expect(configuration.gatewayAddress.description == "10.0.2.1")
        #expect(configuration.guestAddress.description == "10.0.2.2")
        #expect(
            configuration.tap == "tap0" && configuration.ports == nil && configuration.dhcp && configuration.forwardICMP
        )
    }

    @Test func fullSection() throws {
        let configuration = try decode(
            #"{"binding": "masquerade", "subnet": "192.168.50.0/29", "gateway": "192.168.50.6", "guest": "192.168.50.3", "#
                + #""tap": "vmtap", "interface": "net1", "ports": [{"name": "http", "port": 80}, {"port": 53, "protocol": "udp"}], "#
                + #""forward_icmp": false, "dhcp": false, "lease_seconds": 3600, "mtu": 1400}"#)
        #expect(configuration.gatewayAddress.description == "192.168.50.6")
        #expect(configuration.guestAddress.description == "192.168.50.3")
        #expect(
            configuration.ports == [.init(name: "http", port: 80, transport: .tcp), .init(port: 53, transport: .udp)])
        #expect(configuration.podInterface == "net1" && configuration.mtu == 1400 && configuration.leaseSeconds == 3600)
        #expect(!configuration.forwardICMP && !configuration.dhcp)
    }

    @Test(arguments: [
        (#"{"bridge": true}"#, "pod.network.bridge"),
        (#"{"binding": "bridge"}"#, "pod.network.binding: 'bridge'"),
        (#"{"subnet": "10.0.2.1/24"}"#, "pod.network.subnet: '10.0.2.1/24'"),
        (#"{"subnet": "10.0.2.0/31"}"#, "pod.network.subnet: '10.0.2.0/31'"),
        (#"{"gateway": "10.0.3.1"}"#, "pod.network.gateway: '10.0.3.1'"),
        (#"{"guest": "10.0.2.1"}"#, "pod.network.guest: '10.0.2.1'"),
        (#"{"guest": "10.0.2.255"}"#, "pod.network.guest: '10.0.2.255'"),
        (#"{"guest": "ten"}"#, "pod.network.guest: 'ten'"),
        (#"{"tap": "a/b"}"#, "pod.network.tap: 'a/b'"),
        (#"{"tap": "sixteen-chars-xx"}"#, "pod.network.tap: 'sixteen-chars-xx'"),
        (#"{"mtu": 40}"#, "pod.network.mtu: '40'"),
        (#"{"lease_seconds": 5}"#, "pod.network.lease_seconds: '5'"),
        (#"{"lease_seconds": -1}"#, "pod.network.lease_seconds: '-1'"),
        (#"{"ports": [{"port": 0}]}"#, "pod.network.ports[0].port: '0'"),
        (#"{"ports": [{"port": 80}, {"port": 80, "protocol": "TCP"}]}"#, "pod.network.ports[1]: 'TCP 80'"),
        (#"{"ports": [{"port": 80, "protocol": "SCTP"}]}"#, "pod.network.ports[0].protocol: 'SCTP'"),
        (#"{"ports": [{"port": 80, "hostPort": 8080}]}"#, "pod.network.ports[0].hostPort"),
    ])
    func badValuesAreNamed(json: String, expected: String) {
        let message = refusal(json)
        #expect(message?.contains(expected) == true, "\(json) → \(message ?? "accepted")")
    }
}
