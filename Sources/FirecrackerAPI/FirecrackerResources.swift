import VMM

#if canImport(Glibc)
    import Glibc
#endif

/// What a Firecracker client has configured: the machine before `InstanceStart`, in
/// Firecracker's terms, checked as each piece arrives (as Firecracker checks it) and turned
/// into a `VirtualMachineConfiguration` at start.
public struct FirecrackerResources: Sendable, Equatable {
    public var machine = FirecrackerMachineConfiguration()
    public var bootSource: FirecrackerBootSource?
    /// In the order they were first put (the root device is the guest's first disk).
    public var drives: [FirecrackerDrive] = []
    public var networkInterfaces: [FirecrackerNetworkInterface] = []
    public var entropy: FirecrackerEntropyDevice?
    public var serial: FirecrackerSerialDevice?
    public var logger: FirecrackerLoggerConfiguration?
    public var metrics: FirecrackerMetricsConfiguration?

    public init() {}

    /// Firecracker's vCPU limit.
    static let maximumVCPUCount = 32

    /// The command line when the client gives no `boot_args`. Firecracker's default turns the
    /// serial console off (8250.nr_uarts=0); SwiftVMM's keeps it, as `swiftvmm run` does.
    public static let defaultBootArguments = "console=ttyS0 reboot=k panic=1"

    // MARK: - Pre-boot updates

    /// PUT (`replace`) or PATCH of /machine-config.
    mutating func update(_ update: MachineConfigurationUpdate, replace: Bool) throws(FirecrackerFault) {
        var next = replace ? FirecrackerMachineConfiguration() : machine
        if replace {
            guard let vcpus = update.vcpuCount else {
                throw FirecrackerFault(
                    "An error occurred when deserializing the json body of a request: missing field `vcpu_count`.")
            }
            guard let memory = update.memSizeMiB else {
                throw FirecrackerFault(
                    "An error occurred when deserializing the json body of a request: missing field `mem_size_mib`.")
            }
            next.vcpuCount = vcpus
            next.memSizeMiB = memory
        }
        if let vcpus = update.vcpuCount { next.vcpuCount = vcpus }
        if let memory = update.memSizeMiB { next.memSizeMiB = memory }
        if let smt = update.smt { next.smt = smt }
        if let track = update.trackDirtyPages { next.trackDirtyPages = track }
        if let hugePages = update.hugePages { next.hugePages = hugePages }
        if let template = update.cpuTemplate, template != "None" {
            throw FirecrackerFault.unsupported("CPU templates (cpu_template \(template))")
        }
        guard (1...Self.maximumVCPUCount).contains(next.vcpuCount) else {
            throw FirecrackerFault(
                "The vCPU number is invalid: \(next.vcpuCount); it must be from 1 to \(Self.maximumVCPUCount).")
        }
        guard next.memSizeMiB >= 1, next.memSizeMiB <= 1 << 30 else {
            throw FirecrackerFault("The memory size (MiB) is invalid: \(next.memSizeMiB); it must be at least 1.")
        }
        if next.smt { throw FirecrackerFault.unsupported("SMT (smt true)") }
        if next.trackDirtyPages {
            throw FirecrackerFault.unsupported("dirty page tracking (track_dirty_pages true: there are no snapshots)")
        }
        if next.hugePages == .transparent {
            throw FirecrackerFault.unsupported("transparent huge pages (huge_pages Transparent); use None or 2M")
        }
        if next.hugePages == .twoMiB, next.memSizeMiB % 2 != 0 {
            throw FirecrackerFault(
                "The memory size (MiB) is invalid: \(next.memSizeMiB); with 2M huge pages it must be a multiple of 2.")
        }
        machine = next
    }

    /// PUT /boot-source: the kernel (and initrd) must be readable now, as Firecracker opens them.
    mutating func setBootSource(_ source: FirecrackerBootSource) throws(FirecrackerFault) {
        try Self.checkReadable(source.kernelImagePath, what: "kernel file")
        if let initrd = source.initrdPath { try Self.checkReadable(initrd, what: "initrd file") }
        bootSource = source
    }

    /// PUT /drives/{id}: a new drive, or a whole new configuration of an existing one.
    mutating func putDrive(_ drive: FirecrackerDrive) throws(FirecrackerFault) {
        try Self.checkID(drive.driveID)
        if drive.isRootDevice, let root = drives.first(where: { $0.isRootDevice && $0.driveID != drive.driveID }) {
            throw FirecrackerFault("A root block device already exists: \(root.driveID).")
        }
        try Self.checkDiskImage(drive.pathOnHost, readOnly: drive.isReadOnly, driveID: drive.driveID)
        if let index = drives.firstIndex(where: { $0.driveID == drive.driveID }) {
            drives[index] = drive
        } else {
            drives.append(drive)
        }
    }

    /// PUT /network-interfaces/{id}.
    mutating func putNetworkInterface(_ interface: FirecrackerNetworkInterface) throws(FirecrackerFault) {
        try Self.checkID(interface.ifaceID)
        let others = networkInterfaces.filter { $0.ifaceID != interface.ifaceID }
        if others.contains(where: { $0.hostDevName == interface.hostDevName }) {
            throw FirecrackerFault("The host device name \(interface.hostDevName) is already in use.")
        }
        if let mac = interface.guestMAC, others.contains(where: { $0.guestMAC?.lowercased() == mac.lowercased() }) {
            throw FirecrackerFault("The guest MAC address \(mac) is already in use.")
        }
        do {
            try NetworkInterfaceConfiguration(tap: interface.hostDevName, mac: interface.guestMAC, mtu: interface.mtu)
                .validate(field: "network-interfaces[\(interface.ifaceID)]")
        } catch {
            throw FirecrackerFault(error.description)
        }
        if let index = networkInterfaces.firstIndex(where: { $0.ifaceID == interface.ifaceID }) {
            networkInterfaces[index] = interface
        } else {
            networkInterfaces.append(interface)
        }
    }

    // MARK: - The machine

    /// The machine these resources describe, named `id`.
    public func virtualMachineConfiguration(id: String) throws(FirecrackerFault) -> VirtualMachineConfiguration {
        guard let bootSource else { throw FirecrackerFault("Cannot start microvm without kernel configuration.") }
        var commandLine = bootSource.bootArgs ?? Self.defaultBootArguments
        let ordered = drives.filter(\.isRootDevice) + drives.filter { !$0.isRootDevice }
        if let root = ordered.first, root.isRootDevice {
            let device = root.partUUID.map { "PARTUUID=\($0)" } ?? "/dev/vda"
            commandLine += " root=\(device) \(root.isReadOnly ? "ro" : "rw")"
        }
        var configuration = VirtualMachineConfiguration(
            name: id, vcpuCount: machine.vcpuCount, memoryMiB: machine.memSizeMiB,
            memoryBacking: machine.hugePages == .twoMiB ? .hugetlbfs : .anonymous,
            kernelPath: bootSource.kernelImagePath, initrdPath: bootSource.initrdPath, commandLine: commandLine)
        configuration.disks = ordered.map { drive in
            // GET_ID answers at most 20 bytes: the drive id, cut there.
            DiskConfiguration(
                path: drive.pathOnHost, readOnly: drive.isReadOnly,
                serial: String(decoding: drive.driveID.utf8.prefix(20), as: UTF8.self),
                cache: .writeback, aio: drive.ioEngine == .async ? .ioUring : .auto)
        }
        configuration.networkInterfaces = networkInterfaces.map {
            NetworkInterfaceConfiguration(tap: $0.hostDevName, mac: $0.guestMAC, mtu: $0.mtu)
        }
        configuration.entropyDevice = entropy != nil
        if let path = serial?.serialOutPath { configuration.console = .file(path: path) }
        do {
            try configuration.validate()
        } catch {
            throw FirecrackerFault(error)
        }
        return configuration
    }

    // MARK: - Checks

    /// Firecracker's resource-id rule: non-empty, letters, digits and underscores.
    static func checkID(_ id: String) throws(FirecrackerFault) {
        guard !id.isEmpty else { throw FirecrackerFault("The ID cannot be empty.") }
        guard id.allSatisfy({ $0 == "_" || $0.isLetter || $0.isNumber }) else {
            throw FirecrackerFault("API Resource IDs can only contain alphanumeric characters and underscores.")
        }
    }

    static func checkReadable(_ path: String, what: String) throws(FirecrackerFault) {
        guard !path.isEmpty, access(path, R_OK) == 0 else {
            throw FirecrackerFault(
                "The \(what) cannot be opened: \(path): \(String(cString: strerror(errno))).",
                exitStatus: ExitStatus.unreadableFile)
        }
    }

    static func checkDiskImage(_ path: String, readOnly: Bool, driveID: String) throws(FirecrackerFault) {
        guard !path.isEmpty, access(path, readOnly ? R_OK : R_OK | W_OK) == 0 else {
            throw FirecrackerFault(
                "Unable to open the block device backing file of drive \(driveID): \(path): "
                    + "\(String(cString: strerror(errno))).", exitStatus: ExitStatus.unreadableFile)
        }
    }
}
