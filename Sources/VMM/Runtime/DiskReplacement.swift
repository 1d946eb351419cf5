@_spi(ExitPath) import Devices
@_spi(ExitPath) import Virtio

extension MachineRuntime {
    /// Points disk `index` at the image at `path` (or, for the image it already uses, reads its
    /// size again), then raises a configuration-change interrupt. See `Machine.replaceDiskImage`.
    func replaceDiskImage(index: Int, path: String) throws(MachineError) {
        let field = "disks[\(index)]"
        let current = state
        switch current {
        case .created, .running, .paused: break
        case .stopping, .stopped:
            throw .invalidState("replaceDiskImage", current, "a stopping or stopped machine's disks cannot change")
        }
        let disks = resources.devices.diskSlots
        guard configuration.disks.indices.contains(index), disks.indices.contains(index) else {
            throw .invalidValue(
                field: "disk index", value: "\(index)",
                expected: "0 to \(configuration.disks.count - 1) (the machine has \(configuration.disks.count) disks)")
        }
        let (disk, transport) = disks[index]
        let options = configuration.disks[index]
        do {
            // The image must be at least the disk's declared size (size_mib, create_size_mib),
            // as at boot.
            if let open = disk.backend as? FileBlockBackend, open.isSameFile(as: path) {
                _ = try open.refreshCapacity(declaredBytes: options.declaredBytes)
            } else {
                let next = try FileBlockBackend(
                    path: path, readOnly: options.readOnly, directIO: options.cache == .none,
                    declaredBytes: options.declaredBytes)
                try transport.withDeviceLocked { (_) throws(BlockBackendError) in try disk.replaceBackend(next) }
            }
        } catch {
            throw .from(error, field: field)
        }
        transport.configurationChanged()
        logger.info(
            "disk image replaced",
            metadata: ["disk": "\(index)", "path": "\(path)", "capacity_bytes": "\(disk.backend.capacityBytes)"])
    }
}
