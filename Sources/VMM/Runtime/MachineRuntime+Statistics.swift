@_spi(ExitPath) import Devices

/// The snapshot `Machine.statistics` returns, read from the machine's parts.
extension MachineRuntime {
    var statistics: MachineStatistics {
        let devices = resources.devices
        let ready = devices.platform.bootTimer.readyNanoseconds
        return MachineStatistics(
            exitCounts: resources.vcpus.exitCounts, vcpuCPUNanoseconds: resources.vcpus.cpuNanoseconds,
            virtioNotificationCounts: devices.virtioSlots.map(\.notificationCounts),
            probes: devices.probes.map { ExitProbeStatistics($0) }, disks: diskStatistics,
            networkInterfaces: networkStatistics, console: ConsoleStatistics(devices.console.statistics),
            guestReadyNanoseconds: ready, guestReadyAfterStartNanoseconds: ready.map { $0 &- startTime.nanoseconds },
            health: health)
    }
}

extension MachineRuntime {
    var diskStatistics: [DiskStatistics] {
        zip(configuration.disks.indices, resources.devices.diskSlots.map(\.disk)).map { index, disk in
            DiskStatistics(
                index: index, path: (disk.backend as? FileBlockBackend)?.path ?? configuration.disks[index].path,
                engine: disk.engineKind.rawValue, disk.statistics)
        }
    }

    var networkStatistics: [NetworkInterfaceStatistics] {
        let nics = resources.devices.networkDevices
        return zip(configuration.networkInterfaces.indices, nics).map { index, nic in
            NetworkInterfaceStatistics(index: index, tap: configuration.networkInterfaces[index].tap, nic.statistics)
        }
    }
}
