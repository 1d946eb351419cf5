import Testing
import VMM

/// Every configuration error comes as one `MachineError`: a code, the field it names, a message
/// that starts with that field, and a distinct exit status per kind.
@Suite struct ErrorTests {
    static let cases: [(String, VirtualMachineConfiguration, MachineError.Code, String)] = [
        ("vCPUs", VirtualMachineConfiguration(vcpuCount: 0, console: .none), .invalidValue, "vcpus"),
        ("memory", VirtualMachineConfiguration(memoryMiB: 0, console: .none), .invalidValue, "memory_mib"),
        (
            "kernel", VirtualMachineConfiguration(kernelPath: "/nonexistent/vmlinuz", console: .none), .fileUnreadable,
            "kernel"
        ),
        (
            "disk", VirtualMachineConfiguration(console: .none, disks: [DiskConfiguration(path: "/nonexistent.img")]),
            .fileUnreadable, "disks[0]"
        ),
        (
            "NIC",
            VirtualMachineConfiguration(console: .none, networkInterfaces: [NetworkInterfaceConfiguration(tap: "")]),
            .invalidValue, "network_interfaces[0]"
        ),
        ("console", VirtualMachineConfiguration(console: .file(path: "")), .invalidValue, "console"),
        (
            "too many devices",
            VirtualMachineConfiguration(
                console: .none, disks: (0..<19).map { DiskConfiguration(path: "/d\($0).img") }),
            .invalidValue, "disks"
        ),
    ]

    @Test(arguments: cases.indices)
    func configurationErrorsNameTheirField(index: Int) throws {
        let (name, configuration, code, field) = Self.cases[index]
        #expect(name.isEmpty == false)
        #expect {
            _ = try Machine(configuration: configuration)
        } throws: { error in
            guard let error = error as? MachineError else { return false }
            return error.code == code && error.field?.hasPrefix(field) == true && error.message.hasPrefix(field)
                && error.exitStatus == VMM.ExitStatus.exitStatus(for: code)
        }
    }

    @Test func everyCodeHasItsOwnExitStatusFamily() {
        for code in MachineError.Code.allCases {
            let error = MachineError(code: code, message: "x")
            #expect(error.exitStatus != 0, "\(code)")
        }
        #expect(MachineError.invalidValue(field: "f", value: "v", expected: "e").exitStatus == 10)
        #expect(MachineError.fileUnreadable(field: "f", path: "p", reason: "r").exitStatus == 11)
        #expect(MachineError.unsupportedBootImage(field: "f", path: "p", reason: "r").exitStatus == 12)
        #expect(MachineError.exceedsHost(field: "f", value: "v", limit: "l").exitStatus == 13)
        #expect(MachineError.fileLocked(field: "f", path: "p", reason: "r").exitStatus == 14)
        #expect(MachineError.networkUnavailable(field: "f", reason: "r").exitStatus == 15)
        #expect(MachineError.hostUnsupported("h").exitStatus == 2)
    }

    @Test func aSystemCauseIsPartOfTheDescription() {
        let error = MachineError(
            code: .setupFailed, field: "kvm", message: "kvm: creating the VM failed",
            cause: SystemCause(operation: "ioctl(KVM_CREATE_VM)", errno: 12))
        #expect(error.description.contains("ioctl(KVM_CREATE_VM)"))
        #expect(error.description.contains("errno 12"))
    }

    /// A failure behind which a system call failed carries it as `cause` (operation and errno),
    /// and the description does not repeat an errno the message already gives.
    @Test(.enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm), arguments: ["kernel", "disk", "console"])
    func systemCallFailuresCarryTheirCause(what: String) throws {
        var configuration = VirtualMachineConfiguration(console: .none)
        let path = "/nonexistent-\(what)/file"
        switch what {
        case "kernel": configuration = VirtualMachineConfiguration(kernelPath: path, console: .none)
        case "disk": configuration.disks = [DiskConfiguration(path: path)]
        default: configuration.console = .file(path: path)
        }
        do {
            _ = try Machine(configuration: configuration)
            Issue.record("\(what): a missing file was accepted")
        } catch {
            let cause = try #require(error.cause, "\(what): \(error.message)")
            #expect(cause.operation == "open(\(path))")
            #expect(cause.errno == 2)
            #expect(error.description.components(separatedBy: "errno 2").count == 2, "\(error.description)")
        }
    }

    /// The vCPU limit the check reports is one a machine can have (KVM allows 1024 here; the
    /// machine's own limit is 254).
    @Test(.enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm)) func theHostCheckReportsAReachableVCPULimit() throws {
        let limit = try #require(KVMHost.check().maximumVCPUCount)
        #expect(limit >= 1 && limit <= VirtualMachineConfiguration.maximumVCPUCount)
    }

    @Test func theHostCheckSaysWhatIsMissing() {
        let missing = KVMHost.check(path: "/nonexistent/kvm")
        #expect(!missing.isUsable)
        #expect(missing.problems.count == 1)
        #expect(missing.description.contains("/nonexistent/kvm"))
        #expect(missing.description.contains("kvm module"))
    }
}

extension VMM.ExitStatus {
    /// The status each error code maps to (the exit-status table of docs/configuration.md).
    static func exitStatus(for code: MachineError.Code) -> Int32 {
        switch code {
        case .invalidValue, .malformedConfigurationFile, .invalidState: return invalidArgument
        case .fileUnreadable: return unreadableFile
        case .unsupportedBootImage: return unsupportedBootImage
        case .exceedsHost: return exceedsHost
        case .fileLocked: return resourceBusy
        case .networkUnavailable: return networkUnavailable
        case .hostUnsupported: return hostUnsupported
        case .setupFailed, .cancelled: return vmmError
        case .diskWrongType: return 19
        case .diskTooSmall: return 20
        case .diskReadOnlyMount: return 21
        }
    }
}
