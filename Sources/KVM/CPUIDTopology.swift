import CKVM

/// Turns the host's supported CPUID list into the table one vCPU sees: a single package with
/// `vcpuCount` cores, one thread each, APIC id = vCPU index; the hypervisor bit and the KVM
/// signature; TSC-deadline; the TSC frequency leaf 0x40000010. Pure, so it is tested without KVM.
package struct CPUIDTopology: Sendable, Equatable {
    /// Number of vCPUs in the VM (cores in the one package).
    package var vcpuCount: Int
    /// Whether KVM emulates the TSC-deadline timer (KVM_CAP_TSC_DEADLINE_TIMER).
    package var tscDeadlineTimer: Bool
    /// The guest TSC frequency in kHz (KVM_GET_TSC_KHZ), or nil when unknown.
    package var tscFrequencyKHz: UInt32?

    /// The APIC bus frequency KVM's local APIC timer emulates: 1 GHz.
    package static let apicBusFrequencyKHz: UInt32 = 1_000_000

    package init(vcpuCount: Int, tscDeadlineTimer: Bool, tscFrequencyKHz: UInt32?) {
        self.vcpuCount = vcpuCount
        self.tscDeadlineTimer = tscDeadlineTimer
        self.tscFrequencyKHz = tscFrequencyKHz
    }

    /// Bits needed to number `vcpuCount` cores (the APIC id field width for the core level).
    var coreIDBits: UInt32 {
        var bits: UInt32 = 0
        while (1 << bits) < vcpuCount { bits += 1 }
        return bits
    }

    /// The CPUID entries for the vCPU with index `vcpuIndex` (also its APIC id).
    package func entries(from supported: [CPUIDEntry], vcpuIndex: Int) -> [CPUIDEntry] {
        let apicID = UInt32(vcpuIndex)
        let count = UInt32(max(1, vcpuCount))
        let addressableIDs = UInt32(1) << coreIDBits
        var result: [CPUIDEntry] = []
        result.reserveCapacity(supported.count + 2)
        for original in supported {
            var entry = original
            switch entry.function {
            case 0x1:
                entry.ebx = (entry.ebx & 0x0000_ffff) | (apicID << 24) | (min(addressableIDs, 255) << 16)
                entry.ecx |= 1 << 31  // hypervisor present
                if tscDeadlineTimer { entry.ecx |= 1 << 24 } else { entry.ecx &= ~(1 << 24) }
                if count > 1 { entry.edx |= 1 << 28 } else { entry.edx &= ~(1 << 28) }  // HTT
            case 0x4:
                // Deterministic cache parameters: cores per package, threads sharing each cache.
                let level = (entry.eax >> 5) & 0x7
                let sharing: UInt32 = level >= 3 ? addressableIDs - 1 : 0
                entry.eax = (entry.eax & 0x0000_3fff) | ((addressableIDs - 1) << 26) | (sharing << 14)
            case 0xb, 0x1f:
                continue  // synthesized below: KVM reports only subleaf 0, and the host's values
            case 0x4000_0000:
                entry.eax = 0x4000_0010
                entry.ebx = 0x4b4d_564b  // "KVMK"
                entry.ecx = 0x564b_4d56  // "VMKV"
                entry.edx = 0x0000_004d  // "M\0\0\0"
            case 0x8000_0001:
                if count > 1 { entry.ecx |= 1 << 1 } else { entry.ecx &= ~(1 << 1) }  // CmpLegacy
            case 0x8000_0008:
                entry.ecx = (entry.ecx & ~0x0000_f0ff) | (coreIDBits << 12) | (count - 1)
            case 0x8000_001e:
                entry.eax = apicID
                entry.ebx = (entry.ebx & ~0xffff) | (apicID & 0xff)  // core id; one thread per core
                entry.ecx = entry.ecx & ~0x7ff  // node 0, one node per package
            default:
                break
            }
            result.append(entry)
        }
        // Extended topology (0xB, and 0x1F where the CPU has it): thread, core and an invalid level.
        let maximumBasicLeaf = supported.first { $0.function == 0 }?.eax ?? 0
        for function: UInt32 in [0xb, 0x1f] where maximumBasicLeaf >= function {
            for subleaf: UInt32 in 0...2 {
                result.append(
                    extendedTopology(
                        CPUIDEntry(function: function, index: subleaf, flags: significantIndexFlag), apicID: apicID,
                        count: count))
            }
        }
        if let frequency = tscFrequencyKHz, !result.contains(where: { $0.function == 0x4000_0010 }) {
            result.append(
                CPUIDEntry(function: 0x4000_0010, eax: frequency, ebx: Self.apicBusFrequencyKHz))
        }
        return result
    }

    /// KVM_CPUID_FLAG_SIGNIFCANT_INDEX: the subleaf (ECX) selects the entry.
    private var significantIndexFlag: UInt32 { CKVM_CPUID_FLAG_SIGNIFCANT_INDEX }

    /// Leaf 0xB / 0x1F: subleaf 0 is the thread level, 1 the core level, the rest invalid.
    private func extendedTopology(_ original: CPUIDEntry, apicID: UInt32, count: UInt32) -> CPUIDEntry {
        var entry = original
        entry.edx = apicID
        switch entry.index {
        case 0:
            entry.eax = 0
            entry.ebx = 1
            entry.ecx = (1 << 8) | 0  // level type SMT
        case 1:
            entry.eax = coreIDBits
            entry.ebx = count
            entry.ecx = (2 << 8) | 1  // level type core
        default:
            entry.eax = 0
            entry.ebx = 0
            entry.ecx = entry.index & 0xff  // level type invalid
        }
        return entry
    }
}
