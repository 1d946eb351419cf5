import FoundationEssentials
import VMM

/// The container's limits as its cgroup states them (v2, or v1 as on this project's machine).
public struct CgroupLimits: Sendable, Equatable {
    /// The memory limit in bytes; nil when unlimited.
    public var memoryBytes: UInt64?
    /// Where the memory limit came from (`memory.max`, `memory.limit_in_bytes`), for messages.
    public var memorySource: String?
    /// CPUs the quota allows (quota / period); nil when unlimited.
    public var cpuQuota: Double?

    public init(memoryBytes: UInt64? = nil, memorySource: String? = nil, cpuQuota: Double? = nil) {
        self.memoryBytes = memoryBytes
        self.memorySource = memorySource
        self.cpuQuota = cpuQuota
    }

    /// Reads the limits under `root` (`/sys/fs/cgroup`): cgroup v2's `memory.max` and `cpu.max`,
    /// else v1's `memory/memory.limit_in_bytes` and `cpu/cpu.cfs_quota_us` / `cpu.cfs_period_us`.
    public static func read(root: String = "/sys/fs/cgroup") -> CgroupLimits {
        func text(_ path: String) -> String? {
            guard let data = try? Data(contentsOf: URL(fileURLWithPath: root + "/" + path)) else { return nil }
            return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isWhitespace).joined(separator: " ")
        }
        var limits = CgroupLimits()
        if let v2 = text("memory.max") {
            limits.memoryBytes = parseMemory(v2)
            limits.memorySource = "cgroup v2 memory.max"
        } else if let v1 = text("memory/memory.limit_in_bytes") {
            limits.memoryBytes = parseMemory(v1)
            limits.memorySource = "cgroup v1 memory.limit_in_bytes"
        }
        if let v2 = text("cpu.max") {
            limits.cpuQuota = parseCPUMax(v2)
        } else if let quota = text("cpu/cpu.cfs_quota_us"), let period = text("cpu/cpu.cfs_period_us") {
            limits.cpuQuota = parseCPUQuota(quota: quota, period: period)
        }
        return limits
    }

    /// A memory limit file's value: bytes, or nil for `max` and for v1's "no limit" (a value
    /// near 2^63, rounded down to the page size).
    static func parseMemory(_ text: String) -> UInt64? {
        guard text != "max", let bytes = UInt64(text), bytes < 1 << 62 else { return nil }
        return bytes
    }

    /// cgroup v2 `cpu.max`: "QUOTA PERIOD" or "max PERIOD".
    static func parseCPUMax(_ text: String) -> Double? {
        let parts = text.split(separator: " ")
        guard parts.count == 2, parts[0] != "max", let quota = Double(parts[0]), let period = Double(parts[1]),
            quota > 0, period > 0
        else { return nil }
        return quota / period
    }

    /// cgroup v1: `cpu.cfs_quota_us` (-1: none) over `cpu.cfs_period_us`.
    static func parseCPUQuota(quota: String, period: String) -> Double? {
        guard let quota = Double(quota), let period = Double(period), quota > 0, period > 0 else { return nil }
        return quota / period
    }
}

/// The fit check before a launch: guest memory plus the launcher's overhead must fit the
/// container's memory limit; more vCPUs than the CPU quota only warrant a warning. Every size
/// is checked arithmetic: the values come from a user's file and environment.
public enum ResourceCheck {
    /// Throws when a size is negative (status 10) or the guest does not fit (status 17);
    /// returns warnings (one line each) otherwise.
    public static func check(
        guestMemoryMiB: Int, overheadMiB: Int, vcpus: Int, cgroup: CgroupLimits, downwardMemoryLimitBytes: UInt64?
    ) throws(LaunchError) -> [String] {
        for (field, value) in [("memory_mib", guestMemoryMiB), ("pod.memory_overhead_mib", overheadMiB)] where value < 0
        {
            throw LaunchError(
                status: ExitStatus.invalidArgument, field: field,
                message: "\(field): '\(value)' is not valid; expected a size in MiB of at least 0")
        }
        var limits: [(bytes: UInt64, source: String)] = []
        if let bytes = cgroup.memoryBytes { limits.append((bytes, cgroup.memorySource ?? "the cgroup")) }
        if let bytes = downwardMemoryLimitBytes { limits.append((bytes, "SWIFTVMM_MEMORY_LIMIT")) }
        // Past Int or 64 bits of bytes, the need is larger than any limit.
        let (neededMiB, overflow) = guestMemoryMiB.addingReportingOverflow(overheadMiB)
        let neededBytes = overflow ? nil : Mebibytes.bytes(neededMiB)
        if let tightest = limits.min(by: { $0.bytes < $1.bytes }), (neededBytes ?? .max) > tightest.bytes {
            let needed = overflow ? "more than \(Int.max)" : "\(neededMiB)"
            throw LaunchError(
                status: LaunchError.podResources, field: "memory_mib",
                message:
                    "memory_mib: guest \(guestMemoryMiB) MiB + launcher overhead \(overheadMiB) MiB = \(needed) MiB does "
                    + "not fit the container's memory limit of \(tightest.bytes >> 20) MiB (\(tightest.source)); request "
                    + "resources.limits.memory of at least \(needed)Mi, or lower memory_mib")
        }
        var warnings: [String] = []
        if let quota = cgroup.cpuQuota, Double(vcpus) > quota {
            let shown = (quota * 100).rounded() / 100
            warnings.append(
                "vcpus: \(vcpus) vCPUs but the container's CPU quota is \(shown) CPUs: the guest will be throttled; "
                    + "request resources.limits.cpu of at least \(vcpus)")
        }
        return warnings
    }
}

/// A launch that cannot go on: one line naming the key, variable or resource, and an exit status.
public struct LaunchError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Guest memory plus overhead do not fit the pod's memory limit (`ExitStatus.podResources`).
    public static let podResources = ExitStatus.podResources

    public var status: Int32
    public var field: String
    public var message: String

    public init(status: Int32, field: String, message: String) {
        self.status = status
        self.field = field
        self.message = message
    }

    public var description: String { message }
}
