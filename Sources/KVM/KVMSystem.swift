import CKVM

#if canImport(Glibc)
    import Glibc
#endif

/// A KVM capability SwiftVMM may check for, with the name it has in `<linux/kvm.h>`.
package struct KVMCapability: Sendable, Hashable, CustomStringConvertible {
    /// The `KVM_CAP_*` number.
    package let number: Int32
    /// The `KVM_CAP_*` name, used in error messages.
    package let name: String

    package var description: String { name }

    package static let userMemory = KVMCapability(number: CKVM_CAP_USER_MEMORY, name: "KVM_CAP_USER_MEMORY")
    package static let setTSSAddress = KVMCapability(number: CKVM_CAP_SET_TSS_ADDR, name: "KVM_CAP_SET_TSS_ADDR")
    package static let setIdentityMapAddress = KVMCapability(
        number: CKVM_CAP_SET_IDENTITY_MAP_ADDR, name: "KVM_CAP_SET_IDENTITY_MAP_ADDR")
    package static let extendedCPUID = KVMCapability(number: CKVM_CAP_EXT_CPUID, name: "KVM_CAP_EXT_CPUID")
    package static let immediateExit = KVMCapability(number: CKVM_CAP_IMMEDIATE_EXIT, name: "KVM_CAP_IMMEDIATE_EXIT")
    package static let ioeventfd = KVMCapability(number: CKVM_CAP_IOEVENTFD, name: "KVM_CAP_IOEVENTFD")
    package static let irqfd = KVMCapability(number: CKVM_CAP_IRQFD, name: "KVM_CAP_IRQFD")
    package static let irqchip = KVMCapability(number: CKVM_CAP_IRQCHIP, name: "KVM_CAP_IRQCHIP")
    package static let pit2 = KVMCapability(number: CKVM_CAP_PIT2, name: "KVM_CAP_PIT2")
    package static let maxVCPUs = KVMCapability(number: CKVM_CAP_MAX_VCPUS, name: "KVM_CAP_MAX_VCPUS")
    package static let recommendedVCPUs = KVMCapability(number: CKVM_CAP_NR_VCPUS, name: "KVM_CAP_NR_VCPUS")
    package static let getTSCKHz = KVMCapability(number: CKVM_CAP_GET_TSC_KHZ, name: "KVM_CAP_GET_TSC_KHZ")
    package static let tscDeadlineTimer = KVMCapability(
        number: CKVM_CAP_TSC_DEADLINE_TIMER, name: "KVM_CAP_TSC_DEADLINE_TIMER")

    /// Capabilities every VM needs, whatever its options.
    static let required: [KVMCapability] = [
        .userMemory, .setTSSAddress, .setIdentityMapAddress, .extendedCPUID, .immediateExit, .ioeventfd,
    ]
    /// Capabilities needed when the in-kernel interrupt controller is used.
    package static let requiredForIRQChip: [KVMCapability] = [.irqchip, .irqfd, .pit2]
}

/// The host's `/dev/kvm`: version and capability checks, and the system-wide queries.
package final class KVMSystem: Sendable {
    /// The path of the KVM device.
    package static let defaultPath = "/dev/kvm"

    let descriptor: OwnedFileDescriptor
    /// Size of each vCPU's shared `kvm_run` mapping.
    package let vcpuMappingSize: Int

    /// Opens `path`, checks the API version (12) and the capabilities every VM needs.
    package init(path: String = KVMSystem.defaultPath) throws(KVMError) {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw .deviceUnavailable(path: path, errno: errno) }
        descriptor = OwnedFileDescriptor(taking: fd)
        let version = ckvm_ioctl_value(fd, CKVM_GET_API_VERSION, 0)
        guard version == 12 else { throw .unsupportedAPIVersion(found: version) }
        let size = ckvm_ioctl_value(fd, CKVM_GET_VCPU_MMAP_SIZE, 0)
        guard size > 0 else { throw .ioctlFailed(name: "KVM_GET_VCPU_MMAP_SIZE", errno: errno) }
        vcpuMappingSize = Int(size)
        try requireCapabilities(KVMCapability.required)
    }

    /// Whether `/dev/kvm` exists and can be opened for reading and writing by this process.
    package static func isUsable(path: String = KVMSystem.defaultPath) -> Bool {
        access(path, R_OK | W_OK) == 0
    }

    /// The value `KVM_CHECK_EXTENSION` returns for `capability` (0 when absent).
    package func capabilityValue(_ capability: KVMCapability) -> Int32 {
        max(0, ckvm_ioctl_value(descriptor.rawValue, CKVM_CHECK_EXTENSION, UInt(capability.number)))
    }

    /// Throws `missingCapability` for the first capability in `capabilities` that is absent.
    package func requireCapabilities(_ capabilities: [KVMCapability]) throws(KVMError) {
        for capability in capabilities where capabilityValue(capability) <= 0 {
            throw .missingCapability(name: capability.name)
        }
    }

    /// The largest vCPU count one VM may have on this host.
    package var maximumVCPUCount: Int {
        let maximum = capabilityValue(.maxVCPUs)
        if maximum > 0 { return Int(maximum) }
        // KVM's documentation: without KVM_CAP_MAX_VCPUS, use KVM_CAP_NR_VCPUS, else 4.
        let recommended = capabilityValue(.recommendedVCPUs)
        return recommended > 0 ? Int(recommended) : 4
    }

    /// The CPUID entries KVM can virtualize on this host (`KVM_GET_SUPPORTED_CPUID`).
    package func supportedCPUID() throws(KVMError) -> [CPUIDEntry] {
        var buffer = CPUIDBuffer(capacity: Int(CKVM_MAX_CPUID_ENTRIES))
        let result = buffer.withHeader { header in
            ckvm_ioctl_pointer(descriptor.rawValue, CKVM_GET_SUPPORTED_CPUID, header)
        }
        guard result == 0 else { throw .ioctlFailed(name: "KVM_GET_SUPPORTED_CPUID", errno: errno) }
        return buffer.entries
    }

    /// Creates an empty virtual machine.
    package func makeVirtualMachine() throws(KVMError) -> VirtualMachineFD {
        let fd = try retryingOnInterrupt("KVM_CREATE_VM") {
            ckvm_ioctl_value(descriptor.rawValue, CKVM_CREATE_VM, 0)
        }
        return VirtualMachineFD(system: self, descriptor: OwnedFileDescriptor(taking: fd))
    }
}
