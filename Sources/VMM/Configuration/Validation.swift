extension VirtualMachineConfiguration {
    /// Checks every field on its own terms (no host facts, no file access). The first problem
    /// found is thrown, naming the field and its value.
    public func validate() throws(MachineError) {
        guard vcpuCount >= 1 else {
            throw .invalidValue(field: "vcpus", value: "\(vcpuCount)", expected: "1 to \(Self.maximumVCPUCount)")
        }
        guard memoryMiB >= 1, memoryMiB <= 1 << 30 else {
            throw .invalidValue(field: "memory_mib", value: "\(memoryMiB)", expected: "a size in MiB of at least 1")
        }
        if memoryBacking == .hugetlbfs, memoryMiB % 2 != 0 {
            throw .invalidValue(
                field: "memory_mib", value: "\(memoryMiB)",
                expected: "an even number of MiB with memory_backing hugetlbfs (2 MiB pages)")
        }
        if let kernelPath, kernelPath.isEmpty {
            throw .invalidValue(field: "kernel", value: "", expected: "the path of a kernel image")
        }
        if let initrdPath, initrdPath.isEmpty {
            throw .invalidValue(field: "initrd", value: "", expected: "the path of an initrd image")
        }
        if let firmwarePath, firmwarePath.isEmpty {
            throw .invalidValue(field: "firmware", value: "", expected: "the path of a PVH firmware image")
        }
        let sources = [
            kernelPath.map { _ in "kernel" }, firmwarePath.map { _ in "firmware" }, rawCode.map { _ in "raw_code" },
        ]
        .compactMap { $0 }
        if sources.count > 1 {
            throw .invalidValue(
                field: sources[1], value: "(set together with \(sources[0]))",
                expected: "only one boot source: kernel, firmware or raw_code")
        }
        if let raw = rawCode {
            try raw.validate(memoryBytes: memoryBytes)
            if !inKernelIRQChip, vcpuCount > 1 {
                throw .invalidValue(
                    field: "vcpus", value: "\(vcpuCount)",
                    expected: "1 for raw_code without irqchip (other vCPUs would start at the reset vector)")
            }
            if initrdPath != nil {
                throw .invalidValue(field: "initrd", value: initrdPath ?? "", expected: "no initrd with raw_code")
            }
        }
        if entropyDevice || !disks.isEmpty || !networkInterfaces.isEmpty, !inKernelIRQChip {
            throw .invalidValue(
                field: "irqchip", value: "false", expected: "true when there are virtio devices (rng, disks, NICs)")
        }
        for (index, disk) in disks.enumerated() { try disk.validate(field: "disks[\(index)]") }
        for (index, interface) in networkInterfaces.enumerated() {
            try interface.validate(field: "network_interfaces[\(index)]")
        }
        try MachineLayout.checkDeviceLimit(self)
        if case .file(let path, _) = console, path.isEmpty {
            throw .invalidValue(field: "console", value: "file=", expected: "file=PATH with a non-empty PATH")
        }
        for (index, probe) in probes.enumerated() {
            try probe.validate(field: "probes[\(index)]")
        }
    }

    /// Checks the fields that depend on the host: memory and vCPU count.
    public func validate(against host: HostLimits) throws(MachineError) {
        if memoryBytes > host.memoryBytes {
            throw .exceedsHost(
                field: "memory_mib", value: "\(memoryMiB) MiB", limit: "\(host.memoryBytes >> 20) MiB (MemTotal)")
        }
        if vcpuCount > host.maximumVCPUCount {
            throw .exceedsHost(
                field: "vcpus", value: "\(vcpuCount)", limit: "\(host.maximumVCPUCount) (KVM_CAP_MAX_VCPUS)")
        }
        // SwiftVMM's own limit (8-bit xAPIC ids), checked after the host's so each error names
        // the limit that binds.
        if vcpuCount > Self.maximumVCPUCount {
            throw .invalidValue(field: "vcpus", value: "\(vcpuCount)", expected: "1 to \(Self.maximumVCPUCount)")
        }
    }
}

extension RawCodeBoot {
    func validate(memoryBytes: UInt64) throws(MachineError) {
        guard !code.isEmpty else {
            throw .invalidValue(field: "raw_code.code", value: "[]", expected: "at least one byte of machine code")
        }
        let (end, overflow) = loadAddress.addingReportingOverflow(UInt64(code.count))
        guard loadAddress >= Self.minimumLoadAddress, !overflow, end <= min(memoryBytes, 0xC000_0000) else {
            throw .invalidValue(
                field: "raw_code.load_address", value: "0x" + String(loadAddress, radix: 16),
                expected: "an address ≥ 0x8000 where all \(code.count) code bytes fit in guest RAM")
        }
        if mode == .real16, end > 0x1_0000 {
            throw .invalidValue(
                field: "raw_code.load_address", value: "0x" + String(loadAddress, radix: 16),
                expected: "real16 code that ends below 0x10000")
        }
    }
}

extension ExitProbeConfiguration {
    func validate(field: String) throws(MachineError) {
        let limit: UInt64 = space == .port ? 0x1_0000 : 1 << 52
        let (end, overflow) = address.addingReportingOverflow(length)
        guard length >= 1, !overflow, end <= limit else {
            throw .invalidValue(
                field: "\(field).length", value: "\(length)",
                expected: "a non-empty range inside the \(space == .port ? "16-bit port" : "physical address") space")
        }
        if inKernel, ![1, 2, 4, 8].contains(length) {
            throw .invalidValue(field: "\(field).length", value: "\(length)", expected: "1, 2, 4 or 8 with in_kernel")
        }
    }
}
