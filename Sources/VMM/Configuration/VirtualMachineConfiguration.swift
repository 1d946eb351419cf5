import GuestMemory
import Sandbox
import StrictCoding

/// Everything that describes one virtual machine. A value: build it in code or decode it from
/// JSON (snake_case keys; unknown keys are rejected), then `validate()` it.
public struct VirtualMachineConfiguration: Sendable, Equatable, Codable {
    /// Largest vCPU count SwiftVMM supports (xAPIC ids are 8 bits; 255 is the broadcast id).
    public static let maximumVCPUCount = 254
    /// Default guest memory.
    public static let defaultMemoryMiB = 128

    /// A name for logs and for values derived from it (e.g. generated MAC addresses).
    public var name: String
    /// Number of vCPUs.
    public var vcpuCount: Int
    /// Guest RAM in MiB.
    public var memoryMiB: Int
    /// What backs guest RAM on the host.
    public var memoryBacking: MemoryBacking
    /// Fault every page of guest RAM in before the guest starts (a host short of memory fails
    /// then, not the guest later); the whole guest is resident from the start.
    public var memoryPrefault: Bool
    /// Path of the kernel to boot (an ELF `vmlinux` or other PVH ELF image).
    public var kernelPath: String?
    /// Path of a firmware to boot instead of a kernel (a PVH ELF). With no kernel, firmware or
    /// raw code, the machine boots SwiftVMM's built-in test firmware.
    public var firmwarePath: String?
    /// Path of an initial ramdisk.
    public var initrdPath: String?
    /// Kernel command line.
    public var commandLine: String
    /// A tiny guest given as machine code, instead of a kernel.
    public var rawCode: RawCodeBoot?
    /// Where the console goes.
    public var console: ConsoleConfiguration
    /// Use KVM's in-kernel interrupt controllers (PIC, IOAPIC, local APICs) and PIT. Without
    /// them, HLT exits to the VMM and ends the run (useful for tiny test guests only).
    public var inKernelIRQChip: Bool
    /// Exit probes (benchmarks and tests).
    public var probes: [ExitProbeConfiguration]
    /// A virtio-rng (entropy) device fed from the host's random generator.
    public var entropyDevice: Bool
    /// virtio-blk disks, in order (the guest sees them as vda, vdb, ...).
    public var disks: [DiskConfiguration]
    /// virtio-net interfaces on host taps, in order (eth0, eth1, ...).
    public var networkInterfaces: [NetworkInterfaceConfiguration]
    /// seccomp filters on the machine's threads: `enforce` (default), `log` or `off` (unsafe).
    public var seccomp: SeccompMode

    /// A configuration; every parameter has a default (the built-in firmware, 1 vCPU, 128 MiB).
    public init(
        name: String = "swiftvmm", vcpuCount: Int = 1, memoryMiB: Int = VirtualMachineConfiguration.defaultMemoryMiB,
        memoryBacking: MemoryBacking = .anonymous, memoryPrefault: Bool = false, kernelPath: String? = nil,
        firmwarePath: String? = nil, initrdPath: String? = nil, commandLine: String = "",
        rawCode: RawCodeBoot? = nil,
        console: ConsoleConfiguration = .stdio, inKernelIRQChip: Bool = true, probes: [ExitProbeConfiguration] = [],
        entropyDevice: Bool = false, disks: [DiskConfiguration] = [],
        networkInterfaces: [NetworkInterfaceConfiguration] = [], seccomp: SeccompMode = .enforce
    ) {
        self.seccomp = seccomp
        self.name = name
        self.vcpuCount = vcpuCount
        self.memoryMiB = memoryMiB
        self.memoryBacking = memoryBacking
        self.memoryPrefault = memoryPrefault
        self.kernelPath = kernelPath
        self.firmwarePath = firmwarePath
        self.initrdPath = initrdPath
        self.commandLine = commandLine
        self.rawCode = rawCode
        self.console = console
        self.inKernelIRQChip = inKernelIRQChip
        self.probes = probes
        self.entropyDevice = entropyDevice
        self.disks = disks
        self.networkInterfaces = networkInterfaces
    }

    /// The JSON keys, in the order they are encoded.
    static let keys: StrictKeys<Self> = [
        .field("name", \.name), .field("vcpus", \.vcpuCount), .field("memory_mib", \.memoryMiB),
        .field("memory_backing", \.memoryBacking), .field("memory_prefault", \.memoryPrefault),
        .field("kernel", \.kernelPath), .field("firmware", \.firmwarePath), .field("initrd", \.initrdPath),
        .field("cmdline", \.commandLine), .field("raw_code", \.rawCode), .field("console", \.console),
        .field("irqchip", \.inKernelIRQChip), .field("probes", \.probes), .field("rng", \.entropyDevice),
        .field("disks", \.disks), .field("network_interfaces", \.networkInterfaces), .field("seccomp", \.seccomp),
    ]

    public init(from decoder: any Decoder) throws { self = try Self.keys.decode(decoder, into: Self()) }

    public func encode(to encoder: any Encoder) throws { try Self.keys.encode(self, to: encoder) }

    /// Guest RAM in bytes (0 for a negative `memoryMiB`, `UInt64.max` past 64 bits: both
    /// refused by `validate`).
    public var memoryBytes: UInt64 { Mebibytes.bytes(max(0, memoryMiB)) ?? .max }
}

/// What backs guest RAM on the host (`memory_backing`).
public enum MemoryBacking: String, Sendable, Codable, CaseIterable {
    /// Private anonymous memory, allocated as the guest first touches it (the default).
    case anonymous
    /// A memfd mapped shared, allocated as the guest first touches it.
    case memfd
    /// 2 MiB huge pages from the host's hugetlb pool (`/proc/sys/vm/nr_hugepages`, or a pod's
    /// `hugepages-2Mi` resources), reserved when the machine is built: fewer TLB misses and
    /// page-table pages. `memory_mib` must be even, and the pool must hold all of it.
    case hugetlbfs

    /// Parses the command-line form (`field` names the flag in errors).
    public init(argument: String, field: String) throws(MachineError) {
        guard let backing = MemoryBacking(rawValue: argument) else {
            throw .invalidValue(field: field, value: argument, expected: "anonymous, memfd or hugetlbfs")
        }
        self = backing
    }
}

/// How the machine's threads are filtered with seccomp: how system calls outside a thread's
/// allow-list are treated (see `Sandbox`).
public enum SeccompMode: String, Sendable, Codable, CaseIterable {
    /// The process stops at the first forbidden call (SIGSYS; one line on stderr naming the
    /// call and the thread; exit status 16). The default.
    case enforce
    /// Forbidden calls are allowed and logged by the kernel (audit log / dmesg): for finding
    /// what an allow-list lacks.
    case log
    /// No filters. Unsafe: a guest that takes over the VMM has every system call of the host.
    case off

    /// The sandbox's mode.
    var filterMode: FilterMode {
        switch self {
        case .enforce: return .enforce
        case .log: return .log
        case .off: return .off
        }
    }
}

extension MemoryBacking {
    /// GuestMemory's name for it.
    var guestMemoryBacking: GuestMemoryBacking {
        switch self {
        case .anonymous: return .anonymous
        case .memfd: return .memfd
        case .hugetlbfs: return .hugetlbfs
        }
    }
}
