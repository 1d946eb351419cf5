import Foundation
import Testing
import VMM

/// The counters an observer (a metrics scrape) reads while the machine runs.
@Suite(.serialized, .enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
struct StatisticsTests {
    /// The firmware polls the power button's status register: exits keep coming, and the counts
    /// and the vCPU's CPU time grow while the machine runs, not only once it stopped.
    @Test func exitCountsAndCPUTimeAreLive() async throws {
        let machine = try Machine(configuration: firmware("fw.wait=button"))
        let console = ConsoleCollector(try #require(machine.console))
        #expect(machine.statistics.vcpuCPUNanoseconds == [0], "no thread before start")
        try machine.start()
        #expect(await console.waitFor { $0 == "fw: waiting for the power button" })
        let first = try #require(machine.statistics.exitCounts.first)
        let firstCPU = try #require(machine.statistics.vcpuCPUNanoseconds.first)
        try await Task.sleep(for: .milliseconds(200))
        let second = try #require(machine.statistics.exitCounts.first)
        let secondCPU = try #require(machine.statistics.vcpuCPUNanoseconds.first)
        #expect(first.total > 0 && second.total > first.total, "live: \(first.total) then \(second.total)")
        #expect(second.runNanoseconds > first.runNanoseconds)
        #expect(firstCPU > 0 && secondCPU > firstCPU, "CPU time \(firstCPU) then \(secondCPU)")
        #expect(try await machine.requestStop(grace: .seconds(30)) == .poweredOff)
        let final = try #require(machine.statistics.exitCounts.first)
        #expect(final.total >= second.total && machine.statistics.exitCounts.first == final, "final once stopped")
        #expect(try #require(machine.statistics.vcpuCPUNanoseconds.first) >= secondCPU, "kept after the thread ended")
    }

    @Test func diskRequestsAreCountedByOperation() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stats-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let image = directory.appendingPathComponent("disk.img").path
        #expect(FileManager.default.createFile(atPath: image, contents: Data(count: 1 << 20)))
        var configuration = firmware("fw.test=blk fw.blk-mib=1")
        configuration.disks = [DiskConfiguration(path: image)]
        let machine = try Machine(configuration: configuration)
        #expect(machine.statistics.disks.first?.requests.values.reduce(0, +) == 0)
        try machine.start()
        #expect(try await machine.waitUntilStopped() == .poweredOff)
        let disk = try #require(machine.statistics.disks.first)
        #expect(disk.index == 0 && disk.path == image)
        #expect((disk.requests[.write] ?? 0) > 0 && (disk.requests[.read] ?? 0) > 0 && (disk.requests[.flush] ?? 0) > 0)
        #expect((disk.bytes[.write] ?? 0) >= 1 << 20, "the firmware writes the whole 1 MiB")
        #expect((disk.bytes[.read] ?? 0) >= 1 << 20, "and reads it back")
        let total = disk.requests.values.reduce(0, +)
        #expect(disk.durationBucketCounts.reduce(0, +) == total, "every request is in the histogram")
        #expect(disk.durationBucketCounts.count == disk.durationBucketBoundsSeconds.count + 1)
        #expect(disk.durationSumSeconds > 0)
        #expect(machine.statistics.networkInterfaces.isEmpty)
    }
}
