import GuestMemory
@_spi(ExitPath) import KVM
import Logging

/// Turns a configuration into a machine's runtime: validation against the configuration's own
/// rules and then the host's, the boot plan, the resources, the console streams.
enum MachineBuilder {
    /// Builds `configuration` on the host resources a previous machine of it held (a reboot in
    /// place: nothing is opened), or on new ones opened from `kvmPath` and the configuration.
    static func build(
        _ configuration: VirtualMachineConfiguration, kvmPath: String, reusing previous: HostResources? = nil,
        logger: Logger, events: (@Sendable (MachineEvent) -> Void)?
    ) throws(MachineError) -> MachineRuntime {
        try configuration.validate()
        let layout = try MachineLayout(configuration)
        let tables = try PlatformTables.build(configuration, layout: layout)
        let bootFiles: BootFiles
        if let previous { bootFiles = previous.bootFiles } else { bootFiles = try BootFiles.open(configuration) }
        let boot = try GuestBoot.prepare(
            configuration, files: bootFiles, layout: layout.memory,
            commandLine: layout.commandLine(configuration.commandLine), rsdpAddress: tables?.rsdpAddress ?? 0)
        let system: KVMSystem
        if let previous {
            system = previous.system
        } else {
            do { system = try KVMSystem(path: kvmPath) } catch { throw MachineError.from(error) }
        }
        let limits = HostLimits(memoryBytes: HostLimits.hostMemoryBytes(), maximumVCPUCount: system.maximumVCPUCount)
        try configuration.validate(against: limits)
        let console: MachineConsole? = configuration.console == .stream ? try MachineConsole() : nil
        let startTime = MonotonicTimestamp()
        let logRelay: LogRelay
        do { logRelay = try LogRelay() } catch { throw .from(error, resource: "logging") }
        // The ready signal comes on a vCPU thread: the event goes out on the monitor thread.
        let onGuestReady: @Sendable (UInt64) -> Void = { timestamp in
            logRelay.post(event: .guestReady(nanosecondsAfterStart: timestamp &- startTime.nanoseconds))
        }
        let host: HostResources
        if let previous {
            host = previous
        } else {
            host = try HostResources.open(configuration, system: system, bootFiles: bootFiles, logRelay: logRelay)
        }
        let resources = try MachineResources(
            configuration, layout: layout, host: host, boot: boot, tables: tables, console: console,
            logRelay: logRelay, onGuestReady: onGuestReady)
        logger.info(
            "machine created",
            metadata: [
                "vcpus": "\(configuration.vcpuCount)", "memory_mib": "\(configuration.memoryMiB)",
                "virtio_devices": "\(layout.virtioDevices.count)",
            ])
        return MachineRuntime(
            configuration: configuration, resources: resources, console: console, logger: logger,
            logRelay: logRelay, startTime: startTime, events: events)
    }
}
