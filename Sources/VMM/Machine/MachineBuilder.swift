import GuestMemory
@_spi(ExitPath) import KVM
import Logging

/// Turns a configuration into a machine's runtime: validation against the configuration's own
/// rules and then the host's, the boot plan, the resources, the console streams.
enum MachineBuilder {
    static func build(
        _ configuration: VirtualMachineConfiguration, kvmPath: String, logger: Logger,
        events: (@Sendable (MachineEvent) -> Void)?
    ) throws(MachineError) -> MachineRuntime {
        try configuration.validate()
        let layout = try MachineLayout(configuration)
        let tables = try PlatformTables.build(configuration, layout: layout)
        let boot = try GuestBoot.prepare(
            configuration, layout: layout.memory, commandLine: layout.commandLine(configuration.commandLine),
            rsdpAddress: tables?.rsdpAddress ?? 0)
        let system: KVMSystem
        do { system = try KVMSystem(path: kvmPath) } catch { throw MachineError.from(error) }
        let limits = HostLimits(memoryBytes: HostLimits.hostMemoryBytes(), maximumVCPUCount: system.maximumVCPUCount)
        try configuration.validate(against: limits)
        let console: MachineConsole? = configuration.console == .stream ? try MachineConsole() : nil
        let startTime = MonotonicTimestamp()
        let onGuestReady: @Sendable (UInt64) -> Void = { timestamp in
            events?(.guestReady(nanosecondsAfterStart: timestamp &- startTime.nanoseconds))
        }
        let logRelay: LogRelay
        do { logRelay = try LogRelay() } catch { throw .from(error, resource: "logging") }
        let resources = try MachineResources.build(
            configuration, layout: layout, system: system, boot: boot, tables: tables, console: console,
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
