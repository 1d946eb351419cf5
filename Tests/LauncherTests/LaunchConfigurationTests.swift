import Foundation
import Launcher
import Testing
import VMM

@Suite struct LaunchConfigurationTests {
    private func parse(_ json: String, _ environment: [String: String] = [:]) throws(MachineError)
        -> LaunchConfiguration
    {
        try LaunchConfiguration(json: Array(json.utf8), source: "vm.json", environment: environment)
    }

    @Test func theMachineKeysAndThePodSectionShareOneFile() throws {
        let launch = try parse(
            #"{"vcpus": 2, "memory_mib": 256, "pod": {"grace_seconds": 20, "reboot_in_place": false, "memory_overhead_mib": 48, "console_idle_flush_ms": 50}}"#
        )
        #expect(launch.machine.vcpuCount == 2 && launch.machine.memoryMiB == 256)
        #expect(launch.pod.graceSeconds == 20 && !launch.pod.rebootInPlace)
        #expect(launch.pod.memoryOverheadMiB == 48 && launch.pod.consoleIdleFlushMilliseconds == 50)
    }

    @Test func defaultsWithoutAPodSection() throws {
        let launch = try parse(#"{"vcpus": 1}"#)
        #expect(launch.pod == PodSettings())
        #expect(launch.pod.graceSeconds == 25 && launch.pod.rebootInPlace)
    }

    @Test(arguments: [
        (#"{"pod": {"grace": 3}}"#, "pod.grace"),
        (#"{"pod": {"grace_seconds": -1}}"#, "pod.grace_seconds"),
        (#"{"pod": {"grace_seconds": "ten"}}"#, "pod.grace_seconds"),
        (#"{"pod": {"reboot_in_place": 1}}"#, "pod.reboot_in_place"),
        (#"{"pod": {"console_idle_flush_ms": 0}}"#, "pod.console_idle_flush_ms"),
        (#"{"pod": 5}"#, "pod"),
        (#"{"vcpu": 2}"#, "vcpu"),
        (#"{"vcpus": 2"#, "vm.json"),
    ])
    func badFilesNameTheKey(json: String, key: String) {
        #expect {
            _ = try parse(json)
        } throws: { error in
            guard let error = error as? MachineError else { return false }
            return error.message.contains(key) && [10, 11].contains(error.exitStatus)
        }
    }

    /// A declared TCP port that is the launcher's own would send the kubelet's probes to the
    /// guest: status 10, naming the port's entry and the endpoint's address.
    @Test func aDeclaredPortEqualToTheEndpointsIsRefused() throws {
        let ports = #"{"port": 53, "protocol": "UDP"}, {"port": 8080}"#
        #expect {
            _ = try parse(#"{"pod": {"http_listen": "0.0.0.0:8080", "network": {"ports": [\#(ports)]}}}"#)
        } throws: { error in
            guard let error = error as? MachineError else { return false }
            return error.exitStatus == 10 && error.message.contains("pod.network.ports[1]")
                && error.message.contains("0.0.0.0:8080")
        }
        // The same port over UDP, another port, or no endpoint: accepted.
        _ = try parse(#"{"pod": {"http_listen": "0.0.0.0:53", "network": {"ports": [\#(ports)]}}}"#)
        _ = try parse(#"{"pod": {"http_listen": "0.0.0.0:9090", "network": {"ports": [\#(ports)]}}}"#)
        _ = try parse(#"{"pod": {"http_listen": "", "network": {"ports": [\#(ports)]}}}"#)
    }

    @Test func theEnvironmentNamesThePodAndOverrides() throws {
        let launch = try parse(
            #"{"vcpus": 1, "memory_mib": 128}"#,
            [
                "SWIFTVMM_POD_NAME": "web-0", "SWIFTVMM_POD_NAMESPACE": "default", "SWIFTVMM_POD_IP": "10.88.0.5",
                "SWIFTVMM_MEMORY_LIMIT": "536870912", "SWIFTVMM_VCPUS": "2", "SWIFTVMM_MEMORY_MIB": "256",
                "SWIFTVMM_GRACE_SECONDS": "12.5",
            ])
        #expect(launch.machine.name == "web-0", "the pod's name names the VM when the file does not")
        #expect(launch.pod.podName == "web-0" && launch.pod.podNamespace == "default")
        #expect(launch.pod.podIP == "10.88.0.5" && launch.pod.memoryLimitBytes == 512 << 20)
        #expect(launch.machine.vcpuCount == 2 && launch.machine.memoryMiB == 256 && launch.pod.graceSeconds == 12.5)
        let named = try parse(#"{"name": "mine"}"#, ["SWIFTVMM_POD_NAME": "web-0"])
        #expect(named.machine.name == "mine")
        #expect(try parse("{}", ["SWIFTVMM_POD_IP": "fd00::5"]).pod.podIP == "fd00::5")
    }

    @Test(arguments: [
        ("SWIFTVMM_POD_NAME", "Web_0"), ("SWIFTVMM_POD_IP", "10.88.0"), ("SWIFTVMM_POD_IP", "300.1.1.1"),
        ("SWIFTVMM_MEMORY_LIMIT", "512Mi"), ("SWIFTVMM_MEMORY_LIMIT", "0"), ("SWIFTVMM_VCPUS", "two"),
        ("SWIFTVMM_VCPUS", "0"), ("SWIFTVMM_MEMORY_MIB", "-5"), ("SWIFTVMM_GRACE_SECONDS", "soon"),
        ("SWIFTVMM_GRACE_SECONDS", "1e300"), ("SWIFTVMM_GRACE_SECONDS", "nan"),
    ])
    func badVariablesNameTheVariableAndValue(name: String, value: String) {
        #expect {
            _ = try parse("{}", [name: value])
        } throws: { error in
            guard let error = error as? MachineError else { return false }
            return error.field == name && error.message.contains("'\(value)'") && error.exitStatus == 10
        }
    }

    @Test func theDocumentedVariablesAreTheOnesRead() {
        let names = PodSettings.environmentVariables.map(\.name)
        #expect(names.count == Set(names).count)
        #expect(names.allSatisfy { $0.hasPrefix("SWIFTVMM_") })
    }
}

@Suite struct CgroupLimitsTests {
    private func root(_ files: [String: String]) throws -> String {
        let directory = NSTemporaryDirectory() + "cgroup-\(UUID().uuidString)"
        for (path, text) in files {
            let url = URL(fileURLWithPath: directory + "/" + path)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
        return directory
    }

    @Test func cgroupV2() throws {
        let limits = CgroupLimits.read(root: try root(["memory.max": "268435456\n", "cpu.max": "150000 100000\n"]))
        #expect(limits.memoryBytes == 256 << 20 && limits.memorySource == "cgroup v2 memory.max")
        #expect(limits.cpuQuota == 1.5)
        let unlimited = CgroupLimits.read(root: try root(["memory.max": "max\n", "cpu.max": "max 100000\n"]))
        #expect(unlimited.memoryBytes == nil && unlimited.cpuQuota == nil)
    }

    @Test func cgroupV1() throws {
        let limits = CgroupLimits.read(
            root: try root([
                "memory/memory.limit_in_bytes": "536870912\n", "cpu/cpu.cfs_quota_us": "200000\n",
                "cpu/cpu.cfs_period_us": "100000\n",
            ]))
        #expect(limits.memoryBytes == 512 << 20 && limits.memorySource == "cgroup v1 memory.limit_in_bytes")
        #expect(limits.cpuQuota == 2)
        let unlimited = CgroupLimits.read(
            root: try root([
                "memory/memory.limit_in_bytes": "9223372036854771712\n", "cpu/cpu.cfs_quota_us": "-1\n",
                "cpu/cpu.cfs_period_us": "100000\n",
            ]))
        #expect(unlimited.memoryBytes == nil && unlimited.cpuQuota == nil)
        #expect(CgroupLimits.read(root: "/nonexistent") == CgroupLimits())
    }

    @Test func theGuestMustFitTheTightestLimit() throws {
        let cgroup = CgroupLimits(memoryBytes: 512 << 20, memorySource: "cgroup v2 memory.max", cpuQuota: 1)
        let warnings = try ResourceCheck.check(
            guestMemoryMiB: 256, overheadMiB: 64, vcpus: 2, cgroup: cgroup, downwardMemoryLimitBytes: nil)
        #expect(warnings.count == 1 && warnings[0].contains("CPU quota is 1.0"))
        #expect {
            _ = try ResourceCheck.check(
                guestMemoryMiB: 256, overheadMiB: 64, vcpus: 1, cgroup: cgroup, downwardMemoryLimitBytes: 300 << 20)
        } throws: { error in
            guard let error = error as? LaunchError else { return false }
            return error.status == 17 && error.message.contains("320 MiB") && error.message.contains("300 MiB")
                && error.message.contains("SWIFTVMM_MEMORY_LIMIT") && error.message.contains("at least 320Mi")
        }
        #expect(
            try ResourceCheck.check(
                guestMemoryMiB: 4096, overheadMiB: 64, vcpus: 64, cgroup: CgroupLimits(), downwardMemoryLimitBytes: nil
            ).isEmpty, "no limits, nothing to say")
    }
}

/// The launch file is read like every file a configuration names: a named pipe at its path is
/// refused at once (never blocking the pod's start), a missing file names its errno.
@Suite struct LaunchConfigurationFileTests {
    @Test func aNamedPipeOrAMissingFileIsOneLineAtOnce() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("launch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let pipe = directory.appendingPathComponent("vm.json").path
        #expect(mkfifo(pipe, 0o600) == 0)
        for path in [pipe, directory.appendingPathComponent("missing.json").path] {
            do {
                _ = try LaunchConfiguration(file: path, environment: [:])
                Issue.record("\(path) was read")
            } catch {
                #expect(error.code == .fileUnreadable && error.message.hasPrefix("--config: cannot read '\(path)'"))
            }
        }
    }
}
