import EmbeddedFirmware
import Foundation
import Testing
import VMM

@testable import FirecrackerAPI

// The KVM gate (kvmUsable, kvmSkipReason) and the tags, for every file here.
@_exported import TestSupport

/// An embedder's starter: builds and starts the machine in this process.
struct InProcessStarter: MachineStarter {
    func start(_ configuration: VirtualMachineConfiguration) throws(FirecrackerFault) -> Machine {
        do {
            let machine = try Machine(configuration: configuration)
            try machine.start()
            return machine
        } catch {
            throw FirecrackerFault(error)
        }
    }
}

/// The controller as an embedder uses it: its own starter, requests through `handle`.
@Suite(.serialized, .enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
struct EmbeddedControllerTests {
    @Test func anEmbedderStartsPausesResumesAndStopsTheFirmware() async throws {
        let files = try ScratchFiles()
        let kernel = "\(files.directory)/firmware.elf"
        FileManager.default.createFile(atPath: kernel, contents: Data(EmbeddedFirmware.elf))
        let controller = FirecrackerController(instanceID: "embedded", starter: InProcessStarter())
        func call(_ method: String, _ path: String, _ body: String? = nil) async -> Int {
            await controller.handle(method: method, path: path, body: body.map { Array($0.utf8) }).status
        }
        #expect(
            await call("PUT", "/boot-source", #"{"kernel_image_path": "\#(kernel)", "boot_args": "fw.wait=button"}"#)
                == 204)
        #expect(await call("PUT", "/serial", #"{"serial_out_path": "/dev/null"}"#) == 204)
        #expect(await call("PUT", "/machine-config", #"{"vcpu_count": 2, "mem_size_mib": 64}"#) == 204)
        #expect(await call("PUT", "/actions", #"{"action_type": "InstanceStart"}"#) == 204)
        let machine = try #require(controller.machine)
        #expect(machine.configuration.vcpuCount == 2 && machine.configuration.name == "embedded")
        #expect(await call("PATCH", "/vm", #"{"state": "Paused"}"#) == 204)
        #expect(machine.state == .paused)
        #expect(await call("PATCH", "/vm", #"{"state": "Resumed"}"#) == 204)
        #expect(machine.state == .running)
        #expect(await call("PUT", "/actions", #"{"action_type": "InstanceStart"}"#) == 400, "once only")
        // The firmware waits for the button only once it is ready: press until it powers off.
        var exit: MachineExit?
        for _ in 0..<100 where exit == nil {
            // 204 while it runs (a press while it is already stopping may be refused).
            _ = await call("PUT", "/actions", #"{"action_type": "SendCtrlAltDel"}"#)
            try await Task.sleep(for: .milliseconds(50))
            if case .stopped(let end) = machine.state { exit = end }
        }
        #expect(exit == .poweredOff)
    }
}
