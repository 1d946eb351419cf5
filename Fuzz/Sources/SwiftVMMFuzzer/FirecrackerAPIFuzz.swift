import FoundationEssentials
import VMM

@testable import FirecrackerAPI

/// Firecracker's API takes any method, path and body: every request ends in 200, 204 or a 400
/// whose body is `{"fault_message": ...}`, never a trap; a configuration file of any bytes
/// decodes or is one error. The input: byte 0 picks the method (and, odd, a config file of the
/// rest), byte 1 the resource, byte 2 whether an id follows, then the body. `/logger` and
/// `/metrics` are left out (their paths would create files on the host).
enum FirecrackerAPIFuzz {
    struct NeverStarts: MachineStarter {
        func start(_ configuration: VirtualMachineConfiguration) throws(FirecrackerFault) -> Machine {
            throw FirecrackerFault("the fuzz target starts no machine")
        }
    }

    struct Fault: Decodable {
        let faultMessage: String
        enum CodingKeys: String, CodingKey { case faultMessage = "fault_message" }
    }

    static let methods = ["GET", "PUT", "PATCH", "DELETE"]
    static let resources = [
        "", "actions", "boot-source", "drives", "network-interfaces", "machine-config", "vm", "vm/config",
        "version", "entropy", "serial", "balloon", "snapshot/create", "mmds", "vsock", "cpu-config", "x",
    ]
    /// One controller for the whole run: requests accumulate state, as a client's do.
    static let controller = FirecrackerController(instanceID: "fuzz", starter: NeverStarts())

    static func run(_ bytes: [UInt8]) {
        guard bytes.count >= 3 else { return }
        if bytes[0] & 0x80 != 0 {
            _ = try? FirecrackerConfigFile(json: Array(bytes.dropFirst()), source: "fuzz.json")
            return
        }
        let method = methods[Int(bytes[0]) % methods.count]
        let resource = resources[Int(bytes[1]) % resources.count]
        let path = "/" + resource + (bytes[2] & 1 == 1 ? "/fuzz_id" : "")
        let body = Array(bytes.dropFirst(3))
        let response: FirecrackerResponse
        do {
            response = try FirecrackerRoutes.route(
                method: method, path: path, body: body.isEmpty ? nil : body, controller: controller)
        } catch {
            response = .fault(error)
        }
        switch response.status {
        case 200:
            precondition(response.body.first == UInt8(ascii: "{") && response.body.last == UInt8(ascii: "}"), "JSON")
        case 204:
            precondition(response.body.isEmpty, "204 has no body")
        case 400:
            precondition((try? JSONDecoder().decode(Fault.self, from: Data(response.body))) != nil, "a fault_message")
        default:
            preconditionFailure("status \(response.status)")
        }
    }
}
