import Foundation
import Testing
import VMM

@testable import FirecrackerAPI

/// Firecracker's configuration file: its sections, checked by the API's own rules.
struct FirecrackerConfigFileTests {
    let files: ScratchFiles

    init() throws { files = try ScratchFiles() }

    func parse(_ text: String) throws(MachineError) -> FirecrackerConfigFile {
        try FirecrackerConfigFile(json: Array(text.utf8), source: "vm.json")
    }

    @Test func aWholeFileBecomesTheMachine() throws {
        let kernel = files.file("vmlinux")
        let root = files.file("rootfs.ext4")
        let file = try parse(
            """
            {
              "boot-source": {"kernel_image_path": "\(kernel)", "boot_args": "console=ttyS0 reboot=k"},
              "drives": [{"drive_id": "rootfs", "path_on_host": "\(root)", "is_root_device": true, "is_read_only": false}],
              "machine-config": {"vcpu_count": 2, "mem_size_mib": 256},
              "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap7", "guest_mac": "06:00:00:00:00:01"}],
              "entropy": {},
              "logger": {"log_path": "/dev/null", "level": "Warning"},
              "metrics": {"metrics_path": "/dev/null"},
              "balloon": null
            }
            """)
        let configuration = try file.resources.virtualMachineConfiguration(id: "vm1")
        #expect(configuration.vcpuCount == 2 && configuration.memoryMiB == 256)
        #expect(configuration.kernelPath == kernel)
        #expect(configuration.commandLine == "console=ttyS0 reboot=k root=/dev/vda rw")
        #expect(configuration.disks.map(\.path) == [root])
        #expect(configuration.networkInterfaces.first?.mac == "06:00:00:00:00:01")
        #expect(configuration.entropyDevice)
        #expect(file.resources.logger?.level == .warning)
        #expect(file.resources.metrics?.metricsPath == "/dev/null")
        // GET /vm/config's shape reads back as the same file.
        let encoded = try JSONEncoder().encode(file)
        #expect(try FirecrackerConfigFile(json: [UInt8](encoded), source: "again") == file)
    }

    @Test(arguments: [
        (#"{"boot_source": {}}"#, "unknown key 'boot_source'"),
        (#"{"vsock": {"guest_cid": 3, "uds_path": "/tmp/v.sock"}}"#, "does not support the vsock section"),
        (#"{"balloon": {"amount_mib": 1, "deflate_on_oom": true}}"#, "the balloon section"),
        (#"{"mmds-config": {"network_interfaces": []}}"#, "the mmds-config section"),
        (#"{"machine-config": {"vcpu_count": 99, "mem_size_mib": 128}}"#, "The vCPU number is invalid: 99"),
        (#"{"machine-config": {"vcpu_count": 1}}"#, "missing field `mem_size_mib`"),
        (#"{"drives": [{"drive_id": "a"}]}"#, "is_root_device"),
        (#"{"logger": {"level": "Chatty"}}"#, "Invalid logger level"),
        (#"not json"#, "not valid JSON"),
    ])
    func badFilesAreOneLineNamingTheFile(text: String, expected: String) throws {
        do {
            _ = try parse(text)
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.description.contains("vm.json"), "\(error.description)")
            #expect(error.description.contains(expected), "\(error.description)")
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func aMissingKernelIsAnUnreadableFile() throws {
        do {
            _ = try parse(#"{"boot-source": {"kernel_image_path": "/nonexistent/vmlinux"}}"#)
            Issue.record("accepted")
        } catch {
            #expect(error.description.contains("/nonexistent/vmlinux"))
            #expect(error.exitStatus == ExitStatus.unreadableFile)
        }
    }

    @Test func withoutABootSourceThereIsNoMachine() throws {
        let file = try parse(#"{"machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}"#)
        #expect(throws: FirecrackerFault("Cannot start microvm without kernel configuration.")) {
            try file.resources.virtualMachineConfiguration(id: "vm")
        }
    }
}
