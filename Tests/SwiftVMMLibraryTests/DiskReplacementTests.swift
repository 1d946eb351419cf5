import Foundation
import Testing
import VMM

/// `Machine.replaceDiskImage`: a disk's image swapped under the running guest.
@Suite(.serialized, .enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
struct DiskReplacementTests {
    @Test func theGuestTestsTheNewImageAndBadRequestsAreTypedErrors() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swap-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = directory.appendingPathComponent("first.img").path
        let second = directory.appendingPathComponent("second.img").path
        #expect(FileManager.default.createFile(atPath: first, contents: Data(count: 1 << 20)))
        #expect(FileManager.default.createFile(atPath: second, contents: Data(count: 2 << 20)))
        var configuration = firmware("fw.test=blk fw.blk-mib=1 fw.blk-wait-button fw.wait=button")
        configuration.disks = [DiskConfiguration(path: first)]
        let machine = try Machine(configuration: configuration)
        let console = ConsoleCollector(try #require(machine.console))
        try machine.start()
        #expect(await console.waitFor { $0 == "fw: blk waiting for the power button" })

        #expect(throws: MachineError.self, "no disk 1") { try machine.replaceDiskImage(index: 1, path: second) }
        do {
            try machine.replaceDiskImage(index: 0, path: directory.appendingPathComponent("missing.img").path)
            Issue.record("a missing image was accepted")
        } catch {
            #expect(error.code == .fileUnreadable && error.description.contains("disks[0]"))
        }
        try machine.replaceDiskImage(index: 0, path: second)
        #expect(machine.statistics.disks.first?.path == second)
        #expect(machine.configuration.disks.first?.path == first, "the configuration keeps the original")

        try machine.pressPowerButton()
        #expect(
            await console.waitFor { $0 == "fw: blk0 after the button: capacity 4096 sectors, configuration change yes" }
        )
        #expect(await console.waitFor { $0 == "fw: waiting for the power button" })
        #expect(console.lines.contains("fw: blk0 OK 2048 sectors written and verified"), "\(console.lines)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: first)).allSatisfy { $0 == 0 }, "the first image untouched")
        #expect(try await machine.requestStop(grace: .seconds(30)) == .poweredOff)
        do {
            try machine.replaceDiskImage(index: 0, path: first)
            Issue.record("a stopped machine's disk was replaced")
        } catch {
            #expect(error.code == .invalidState)
        }
    }
}
