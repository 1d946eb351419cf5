import Foundation
import Testing
import VMM

@testable import FirecrackerAPI

/// A starter that never starts: InstanceStart's own checks and its failure path, without KVM.
struct RefusingStarter: MachineStarter {
    func start(_ configuration: VirtualMachineConfiguration) throws(FirecrackerFault) -> Machine {
        throw FirecrackerFault("refused by the test starter (\(configuration.vcpuCount) vCPUs)")
    }
}

/// Files a test configures: a kernel and disk images that exist (their content is never booted).
final class ScratchFiles {
    let directory: String

    init() throws {
        directory =
            FileManager.default.temporaryDirectory.appendingPathComponent("swiftvmm-fcapi-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Creates `name` with `bytes` zero bytes; returns its path.
    func file(_ name: String, bytes: Int = 4096) -> String {
        let path = "\(directory)/\(name)"
        FileManager.default.createFile(atPath: path, contents: Data(count: bytes))
        return path
    }
}

/// Firecracker's request table and pre-boot rules, through the controller (no HTTP, no KVM).
struct FirecrackerRoutesTests {
    let controller = FirecrackerController(instanceID: "test_vm", starter: RefusingStarter())
    let files: ScratchFiles

    init() throws { files = try ScratchFiles() }

    func call(_ method: String, _ path: String, _ body: String? = nil) async -> (Int, String) {
        let response = await controller.handle(method: method, path: path, body: body.map { Array($0.utf8) })
        return (response.status, String(decoding: response.body, as: UTF8.self))
    }

    func json(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    func fault(_ text: String) throws -> String {
        try #require(try json(text)["fault_message"] as? String, "no fault_message in \(text)")
    }

    @Test func instanceInformationBeforeStart() async throws {
        let (status, body) = await call("GET", "/")
        #expect(status == 200)
        let info = try json(body)
        #expect(info["id"] as? String == "test_vm")
        #expect(info["state"] as? String == "Not started")
        #expect(info["vmm_version"] as? String == SwiftVMMVersion.current)
        #expect(info["app_name"] as? String == "swiftvmm")
        let (versionStatus, version) = await call("GET", "/version")
        #expect(versionStatus == 200)
        #expect(try json(version)["firecracker_version"] as? String == SwiftVMMVersion.current)
    }

    @Test func machineConfigurationDefaultsThenPutAndPatch() async throws {
        let (status, body) = await call("GET", "/machine-config")
        #expect(status == 200)
        let defaults = try json(body)
        #expect(defaults["vcpu_count"] as? Int == 1)
        #expect(defaults["mem_size_mib"] as? Int == 128)
        #expect(defaults["smt"] as? Bool == false)
        #expect(defaults["track_dirty_pages"] as? Bool == false)
        #expect(defaults["huge_pages"] as? String == "None")

        let put = await call("PUT", "/machine-config", #"{"vcpu_count": 2, "mem_size_mib": 256}"#)
        #expect(put.0 == 204 && put.1.isEmpty, "204 with no body")
        let patch = await call("PATCH", "/machine-config", #"{"mem_size_mib": 512}"#)
        #expect(patch.0 == 204)
        let after = try json(await call("GET", "/machine-config").1)
        #expect(after["vcpu_count"] as? Int == 2)
        #expect(after["mem_size_mib"] as? Int == 512)
        // PUT sets what it omits back to defaults (vcpu_count is required, so give both).
        _ = await call("PUT", "/machine-config", #"{"vcpu_count": 1, "mem_size_mib": 64, "smt": false}"#)
        #expect(controller.resources.machine.vcpuCount == 1 && controller.resources.machine.memSizeMiB == 64)
    }

    @Test(arguments: [
        (#"{"mem_size_mib": 128}"#, "missing field `vcpu_count`"),
        (#"{"vcpu_count": 1}"#, "missing field `mem_size_mib`"),
        (#"{"vcpu_count": 33, "mem_size_mib": 128}"#, "The vCPU number is invalid: 33"),
        (#"{"vcpu_count": 0, "mem_size_mib": 128}"#, "The vCPU number is invalid: 0"),
        (#"{"vcpu_count": 1, "mem_size_mib": 0}"#, "The memory size (MiB) is invalid: 0"),
        (#"{"vcpu_count": 2, "mem_size_mib": 128, "smt": true}"#, "does not support SMT"),
        (#"{"vcpu_count": 1, "mem_size_mib": 128, "track_dirty_pages": true}"#, "dirty page tracking"),
        (#"{"vcpu_count": 1, "mem_size_mib": 128, "huge_pages": "Transparent"}"#, "transparent huge pages"),
        (#"{"vcpu_count": 1, "mem_size_mib": 129, "huge_pages": "2M"}"#, "multiple of 2"),
        (#"{"vcpu_count": 1, "mem_size_mib": 128, "huge_pages": "7M"}"#, "huge_pages"),
        (#"{"vcpu_count": 1, "mem_size_mib": 128, "cpu_template": "T2"}"#, "CPU templates"),
        (#"{"vcpu_count": 1, "mem_size_mib": 128, "vcpus": 2}"#, "unknown key 'vcpus'"),
        (#"{"vcpu_count": "two", "mem_size_mib": 128}"#, "vcpu_count"),
        (#"{"vcpu_count": 1.5, "mem_size_mib": 128}"#, "vcpu_count"),
        (#"[1, 2]"#, "deserializing"),
        (#"{"vcpu_count": 1, "#, "deserializing"),
    ])
    func badMachineConfigurationsAreFaultsAndChangeNothing(body: String, expected: String) async throws {
        let (status, answer) = await call("PUT", "/machine-config", body)
        #expect(status == 400)
        let message = try fault(answer)
        #expect(message.contains(expected), "\(message)")
        #expect(controller.resources.machine == FirecrackerMachineConfiguration(), "nothing changed")
    }

    @Test func firecrackersGenericFaults() async throws {
        #expect(try fault(await call("PUT", "/machine-config").1) == "Empty PUT request.")
        #expect(try fault(await call("PUT", "/machine-config", "").1) == "Empty PUT request.")
        #expect(try fault(await call("PATCH", "/machine-config").1) == "Empty PATCH request.")
        #expect(try fault(await call("PATCH", "/machine-config", "{}").1) == "Empty PATCH request.")
        #expect(try fault(await call("GET", "/", "{}").1) == "GET request cannot have a body.")
        #expect(
            try fault(await call("GET", "/nothing/here").1) == "Invalid request method and/or path: GET /nothing/here.")
        #expect(
            try fault(await call("DELETE", "/drives/a").1) == "Invalid request method and/or path: DELETE /drives/a.")
        #expect(try fault(await call("POST", "/actions", "{}").1).contains("Invalid request method"))
        #expect(try fault(await call("PUT", "/nothing", "{}").1) == "Invalid request method and/or path: PUT /nothing.")
    }

    @Test(arguments: [
        "balloon", "vsock", "mmds", "mmds/config", "snapshot/create", "snapshot/load", "cpu-config",
        "pmem/p1", "hotplug/memory", "balloon/statistics",
    ])
    func unsupportedResourcesSayWhatIsMissing(path: String) async throws {
        for method in ["GET", "PUT", "PATCH"] {
            let (status, body) = await call(method, "/\(path)", method == "GET" ? nil : "{}")
            #expect(status == 400)
            let message = try fault(body)
            #expect(message.hasPrefix("SwiftVMM does not support"), "\(method) /\(path): \(message)")
        }
    }

    @Test func postBootOperationsAreRefusedBeforeStart() async throws {
        let preBoot = "The requested operation is not supported before starting the microVM."
        #expect(try fault(await call("PATCH", "/vm", #"{"state": "Paused"}"#).1) == preBoot)
        #expect(try fault(await call("PATCH", "/vm", #"{"state": "Resumed"}"#).1) == preBoot)
        #expect(try fault(await call("PUT", "/actions", #"{"action_type": "SendCtrlAltDel"}"#).1) == preBoot)
        #expect(try fault(await call("PUT", "/actions", #"{"action_type": "FlushMetrics"}"#).1) == preBoot)
        #expect(try fault(await call("PATCH", "/drives/root", #"{"drive_id": "root"}"#).1) == preBoot)
        #expect(try fault(await call("PATCH", "/network-interfaces/eth0", #"{"iface_id": "eth0"}"#).1) == preBoot)
        #expect(try fault(await call("PATCH", "/vm", #"{"state": "Stopped"}"#).1).contains("deserializing"))
        #expect(try fault(await call("PUT", "/actions", #"{"action_type": "Reboot"}"#).1).contains("deserializing"))
    }

    @Test func instanceStartNeedsABootSourceAndReportsTheStartersFailure() async throws {
        #expect(
            try fault(await call("PUT", "/actions", #"{"action_type": "InstanceStart"}"#).1)
                == "Cannot start microvm without kernel configuration.")
        let kernel = files.file("vmlinux")
        #expect(await call("PUT", "/boot-source", #"{"kernel_image_path": "\#(kernel)"}"#).0 == 204)
        _ = await call("PUT", "/machine-config", #"{"vcpu_count": 3, "mem_size_mib": 64}"#)
        let (status, body) = await call("PUT", "/actions", #"{"action_type": "InstanceStart"}"#)
        #expect(status == 400)
        #expect(try fault(body) == "refused by the test starter (3 vCPUs)")
        #expect(try json(await call("GET", "/").1)["state"] as? String == "Not started")
    }

    @Test func bootSourceFilesMustBeReadable() async throws {
        let missing = "\(files.directory)/no-such-kernel"
        let message = try fault(await call("PUT", "/boot-source", #"{"kernel_image_path": "\#(missing)"}"#).1)
        #expect(message.contains("The kernel file cannot be opened: \(missing)"))
        let kernel = files.file("vmlinux")
        let initrd = try fault(
            await call("PUT", "/boot-source", #"{"kernel_image_path": "\#(kernel)", "initrd_path": "\#(missing)"}"#).1)
        #expect(initrd.contains("initrd file cannot be opened"))
        #expect(controller.resources.bootSource == nil)
    }

    @Test func drivesFollowFirecrackersRules() async throws {
        let root = files.file("root.img")
        let data = files.file("data.img")
        let put = { (id: String, body: String) in await call("PUT", "/drives/\(id)", body) }
        #expect(
            await put("data", #"{"drive_id": "data", "path_on_host": "\#(data)", "is_root_device": false}"#).0 == 204)
        #expect(
            await put(
                "rootfs",
                #"{"drive_id": "rootfs", "path_on_host": "\#(root)", "is_root_device": true, "is_read_only": true, "cache_type": "Writeback", "io_engine": "Sync"}"#
            ).0 == 204)
        // Path and body disagree; bad ids; a second root; unsupported fields; a missing image.
        #expect(
            try fault(
                await put("other", #"{"drive_id": "data", "path_on_host": "\#(data)", "is_root_device": false}"#).1)
                == "The id from the path does not match the id from the body!")
        #expect(
            try fault(
                await put("bad-id", #"{"drive_id": "bad-id", "path_on_host": "\#(data)", "is_root_device": false}"#).1)
                == "API Resource IDs can only contain alphanumeric characters and underscores.")
        #expect(try fault(await call("PUT", "/drives", #"{"drive_id": "x"}"#).1) == "The ID cannot be empty.")
        #expect(
            try fault(
                await put("root2", #"{"drive_id": "root2", "path_on_host": "\#(data)", "is_root_device": true}"#).1)
                == "A root block device already exists: rootfs.")
        let limited = try fault(
            await put(
                "data",
                #"{"drive_id": "data", "path_on_host": "\#(data)", "is_root_device": false, "rate_limiter": {"ops": {"size": 1, "refill_time": 1}}}"#
            ).1)
        #expect(limited == "SwiftVMM does not support drive rate limiters yet.")
        // Async is io_uring (aio io_uring), Sync SwiftVMM's automatic choice (aio auto).
        #expect(
            await put(
                "data",
                #"{"drive_id": "data", "path_on_host": "\#(data)", "is_root_device": false, "io_engine": "Async"}"#
            ).0 == 204)
        #expect(
            try fault(
                await put("data", #"{"drive_id": "data", "socket": "/run/vhost.sock", "is_root_device": false}"#).1
            )
            .contains("vhost-user"))
        #expect(
            try fault(
                await put(
                    "gone",
                    #"{"drive_id": "gone", "path_on_host": "\#(files.directory)/gone.img", "is_root_device": false}"#
                )
                .1
            ).contains("Unable to open the block device backing file of drive gone"))
        #expect(controller.resources.drives.map(\.driveID) == ["data", "rootfs"])

        // The machine: the root device first, its root= on the command line, ids as serials.
        let kernel = files.file("vmlinux")
        _ = await call("PUT", "/boot-source", #"{"kernel_image_path": "\#(kernel)", "boot_args": "console=ttyS0"}"#)
        let configuration = try controller.resources.virtualMachineConfiguration(id: "test_vm")
        #expect(configuration.disks.map(\.path) == [root, data])
        #expect(configuration.disks.map(\.readOnly) == [true, false])
        #expect(configuration.disks.map(\.serial) == ["rootfs", "data"])
        #expect(configuration.disks.map(\.aio) == [.auto, .ioUring])
        #expect(configuration.commandLine == "console=ttyS0 root=/dev/vda ro")
        #expect(configuration.name == "test_vm")
        let full = try json(await call("GET", "/vm/config").1)
        let drives = try #require(full["drives"] as? [[String: Any]])
        #expect(drives.compactMap { $0["drive_id"] as? String } == ["data", "rootfs"])
        #expect(drives.last?["cache_type"] as? String == "Writeback")
    }

    @Test func networkInterfacesFollowFirecrackersRules() async throws {
        let put = { (id: String, body: String) in await call("PUT", "/network-interfaces/\(id)", body) }
        #expect(
            await put("eth0", #"{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:AC:10:00:02"}"#).0
                == 204)
        #expect(
            try fault(await put("eth1", #"{"iface_id": "eth1", "host_dev_name": "tap0"}"#).1)
                == "The host device name tap0 is already in use.")
        #expect(
            try fault(
                await put("eth1", #"{"iface_id": "eth1", "host_dev_name": "tap1", "guest_mac": "06:00:ac:10:00:02"}"#).1
            )
                == "The guest MAC address 06:00:ac:10:00:02 is already in use.")
        #expect(
            try fault(await put("eth1", #"{"iface_id": "eth1", "host_dev_name": "tap1", "guest_mac": "nope"}"#).1)
                .contains("mac"))
        #expect(
            try fault(await put("eth1", #"{"iface_id": "eth1", "host_dev_name": "tap1", "mtu": 20}"#).1).contains("mtu")
        )
        #expect(
            try fault(await put("eth1", #"{"iface_id": "eth1", "host_dev_name": "tap1", "rx_rate_limiter": {}}"#).1)
                == "SwiftVMM does not support network rate limiters yet.")
        #expect(await put("eth1", #"{"iface_id": "eth1", "host_dev_name": "tap1", "mtu": 1400}"#).0 == 204)
        let kernel = files.file("vmlinux")
        _ = await call("PUT", "/boot-source", #"{"kernel_image_path": "\#(kernel)"}"#)
        let configuration = try controller.resources.virtualMachineConfiguration(id: "vm")
        #expect(configuration.networkInterfaces.map(\.tap) == ["tap0", "tap1"])
        #expect(configuration.networkInterfaces.map(\.mtu) == [nil, 1400])
        #expect(configuration.commandLine == FirecrackerResources.defaultBootArguments)
    }

    @Test func entropySerialLoggerAndMetrics() async throws {
        #expect(await call("PUT", "/entropy", "{}").0 == 204)
        #expect(try fault(await call("PUT", "/entropy", #"{"rate_limiter": {}}"#).1).contains("entropy rate limiters"))
        let serial = "\(files.directory)/serial.out"
        #expect(await call("PUT", "/serial", #"{"serial_out_path": "\#(serial)"}"#).0 == 204)
        let log = "\(files.directory)/fc.log"
        #expect(
            await call("PUT", "/logger", #"{"log_path": "\#(log)", "level": "debug", "show_level": true}"#).0 == 204)
        #expect(try fault(await call("PUT", "/logger", #"{"level": "Loud"}"#).1).contains("Invalid logger level"))
        let metrics = "\(files.directory)/metrics.json"
        #expect(await call("PUT", "/metrics", #"{"metrics_path": "\#(metrics)"}"#).0 == 204)
        #expect(
            try fault(await call("PUT", "/metrics", #"{"metrics_path": "\#(metrics)"}"#).1)
                == "Reinitialization of metrics not allowed.")
        let kernel = files.file("vmlinux")
        _ = await call("PUT", "/boot-source", #"{"kernel_image_path": "\#(kernel)"}"#)
        let configuration = try controller.resources.virtualMachineConfiguration(id: "vm")
        #expect(configuration.entropyDevice)
        #expect(configuration.console == .file(path: serial))

        // The sink writes Firecracker's line form to the file.
        controller.logSink.write(label: "swiftvmm", level: .info, message: "hello", file: "/a/b/File.swift", line: 7)
        controller.logSink.write(label: "swiftvmm", level: .trace, message: "too fine", file: "x", line: 1)
        let text = try String(decoding: #require(FileManager.default.contents(atPath: log)), as: UTF8.self)
        #expect(text.hasSuffix("[test_vm:swiftvmm:INFO] hello\n"), "\(text)")
        #expect(!text.contains("too fine"))
        let config = try json(await call("GET", "/vm/config").1)
        #expect((config["logger"] as? [String: Any])?["level"] as? String == "Debug")
        #expect((config["metrics"] as? [String: Any])?["metrics_path"] as? String == metrics)
        #expect(config["entropy"] is [String: Any])
        #expect(config["balloon"] is NSNull)
    }
}
