@_spi(ExitPath) import KVM

/// Whether this host can run machines, and if not, what is missing.
public enum KVMHost {
    /// What `check()` found.
    public struct Report: Sendable, Equatable, CustomStringConvertible {
        /// The KVM device checked.
        public var path: String
        /// One line per problem: what is missing and what to do. Empty when machines can run.
        public var problems: [String]
        /// The most vCPUs one machine may have here: KVM's limit, capped at SwiftVMM's
        /// (`VirtualMachineConfiguration.maximumVCPUCount`); nil when KVM is not usable.
        public var maximumVCPUCount: Int?
        /// Whether the in-kernel interrupt controller is available (without it, only machines
        /// with one vCPU and no devices run: `irqchip: false`).
        public var supportsInterruptController: Bool

        /// Whether machines can run.
        public var isUsable: Bool { problems.isEmpty }

        public var description: String {
            isUsable
                ? "\(path): usable (up to \(maximumVCPUCount ?? 0) vCPUs per machine)"
                : problems.joined(separator: "\n")
        }
    }

    /// Opens `path`, checks KVM's API version and the capabilities SwiftVMM needs. Never throws:
    /// every problem is in the report.
    public static func check(path: String = "/dev/kvm") -> Report {
        let system: KVMSystem
        do { system = try KVMSystem(path: path) } catch {
            let advice: String
            switch error {
            case .deviceUnavailable:
                advice =
                    "load the kvm module (kvm_intel or kvm_amd), enable virtualization in the firmware, and give "
                    + "this process read-write access (in a pod: a hostPath CharDevice volume for /dev/kvm)"
            case .unsupportedAPIVersion, .missingCapability:
                advice = "use a newer Linux kernel"
            default:
                advice = "check the kernel log"
            }
            return Report(
                path: path, problems: ["\(path): \(error.description); \(advice)"], maximumVCPUCount: nil,
                supportsInterruptController: false)
        }
        var irqchip = true
        do { try system.requireCapabilities(KVMCapability.requiredForIRQChip) } catch { irqchip = false }
        return Report(
            path: path, problems: [],
            maximumVCPUCount: min(system.maximumVCPUCount, VirtualMachineConfiguration.maximumVCPUCount),
            supportsInterruptController: irqchip)
    }
}
