@_spi(ExitPath) import Devices
import HostNetwork
@_spi(ExitPath) import KVM

/// What a machine takes from the host that needs privilege or a path to open: the KVM device,
/// the boot files, disk images (with their OFD locks and block engines: io_uring rings, worker
/// threads), taps and the console file. Opened when the first machine of a configuration is
/// built, then handed to the next machine of a reboot in place (`Machine(rebootingWith:)`), so
/// that a reboot opens nothing: it needs no capability, and the process filter, which forbids
/// opening files for writing and setting up io_uring rings, allows it.
final class HostResources: Sendable {
    /// One disk: its image (the current one: PATCH /drives may swap it) and its engine.
    struct Disk: Sendable {
        let backend: any BlockBackend
        /// nil: requests run on the I/O thread (`aio` sync).
        let engine: any BlockEngine
    }

    let configuration: VirtualMachineConfiguration
    let system: KVMSystem
    let bootFiles: BootFiles
    /// In the configuration's disk order.
    let disks: [Disk]
    /// In the configuration's NIC order.
    let taps: [TapBackend]
    /// The console file (`console` file=PATH), kept open across boots; nil for other consoles.
    let consoleFile: ConsoleOutput?

    private init(
        configuration: VirtualMachineConfiguration, system: KVMSystem, bootFiles: BootFiles, disks: [Disk],
        taps: [TapBackend], consoleFile: ConsoleOutput?
    ) {
        self.configuration = configuration
        self.system = system
        self.bootFiles = bootFiles
        self.disks = disks
        self.taps = taps
        self.consoleFile = consoleFile
    }

    /// Opens what `configuration` names on the host, in the order errors are reported: the
    /// console file, then the disks (created first when `create_size_mib` asks), then the taps.
    static func open(
        _ configuration: VirtualMachineConfiguration, system: KVMSystem, bootFiles: BootFiles, logRelay: LogRelay
    ) throws(MachineError) -> HostResources {
        let consoleFile = try PlatformDevices.openConsoleFile(configuration.console)
        let disks = try configuration.disks.enumerated().map { index, disk throws(MachineError) in
            try openDisk(disk, index: index, seccomp: configuration.seccomp, logRelay: logRelay)
        }
        let taps = try configuration.networkInterfaces.enumerated().map { index, interface throws(MachineError) in
            do throws(TapError) {
                return TapBackend(tap: try TapDevice(name: interface.tap, mtu: interface.mtu))
            } catch {
                throw .networkUnavailable(
                    field: "network_interfaces[\(index)]", reason: error.description, cause: error.cause)
            }
        }
        return HostResources(
            configuration: configuration, system: system, bootFiles: bootFiles, disks: disks, taps: taps,
            consoleFile: consoleFile)
    }

    /// The same resources with each disk's image as `backends` (the previous machine's devices
    /// hold them now), for the next machine of a reboot in place.
    func withDiskImages(_ backends: [any BlockBackend]) -> HostResources {
        let disks = zip(self.disks, backends).map { Disk(backend: $1, engine: $0.engine) }
        return HostResources(
            configuration: configuration, system: system, bootFiles: bootFiles, disks: disks, taps: taps,
            consoleFile: consoleFile)
    }

    private static func openDisk(
        _ disk: DiskConfiguration, index: Int, seccomp: SeccompMode, logRelay: LogRelay
    ) throws(MachineError) -> Disk {
        let field = "disks[\(index)]"
        do {
            if let bytes = disk.createBytes {
                _ = try FileBlockBackend.createSparseImage(path: disk.path, bytes: bytes)
            }
            let backend = try FileBlockBackend(
                path: disk.path, readOnly: disk.readOnly, directIO: disk.cache == .none,
                declaredBytes: disk.declaredBytes)
            let engine = try VirtioDeviceKind.blockEngine(
                disk.aio, field: field, index: index, seccomp: seccomp, logRelay: logRelay)
            return Disk(backend: backend, engine: engine)
        } catch let error as BlockBackendError {
            throw MachineError.from(error, field: field)
        } catch let error as MachineError {
            throw error
        } catch {
            throw MachineError.setupFailed(field, "\(error)")
        }
    }
}
