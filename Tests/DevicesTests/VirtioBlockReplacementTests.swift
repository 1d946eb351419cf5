#if canImport(Glibc)
    import Glibc
#endif

import GuestMemory
import Testing
@_spi(ExitPath) import Virtio
import VirtioTestSupport

@_spi(ExitPath) @testable import Devices

/// A disk's image replaced under a live driver (Firecracker's PATCH /drives), and a resized
/// image's capacity read again.
@Suite struct VirtioBlockReplacementTests {
    /// Reads sector `sector` through the queue; returns its first byte and the status.
    func readFirstByte(_ disk: BlockHarness, sector: UInt64) throws -> (UInt8?, UInt8?) {
        let buffer = disk.driver.allocate(512)
        let status = disk.statusBuffer()
        disk.driver.addChain([
            disk.header(type: 0, sector: sector), .init(address: buffer, length: 512, writable: true), status,
        ])
        _ = try disk.run()
        return (try? disk.driver.memory.load(UInt8.self, at: GuestAddress(buffer)), disk.status(status))
    }

    @Test func requestsAfterTheReplacementGoToTheNewImageAndTheOldOneWasFlushed() throws {
        let disk = try BlockHarness(sectors: 64)
        disk.backend.bytes[0] = 0xaa
        #expect(try readFirstByte(disk, sector: 0) == (0xaa, 0))
        let next = RecordingBackend(sectors: 128)
        next.bytes[512 * 100] = 0xbb
        try disk.device.replaceBackend(next)
        #expect(disk.backend.calls.last == "flush", "the old image's writes are made durable first")
        #expect(disk.device.readConfiguration(offset: 0, size: 4) == 128, "the new capacity")
        #expect(try readFirstByte(disk, sector: 100) == (0xbb, 0), "sector 100 exists only on the new image")
        #expect(next.calls == ["read 51200 512"])
    }

    @Test func aReplacementMustKeepWhatTheDriverNegotiated() throws {
        let disk = try BlockHarness(sectors: 64)
        #expect(throws: BlockBackendError.self) {
            try disk.device.replaceBackend(RecordingBackend(sectors: 64, readOnly: true))
        }
        #expect(throws: BlockBackendError.self) {
            try disk.device.replaceBackend(RecordingBackend(sectors: 64, discard: false))
        }
        #expect(disk.device.readConfiguration(offset: 0, size: 4) == 64, "unchanged")
    }

    @Test func aResizedImageIsReadAgainAndAShrunkOneIsRefusedBelowOneSector() throws {
        let path = "/var/tmp/swiftvmm-resize-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).img"
        let fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0o644)
        defer { unlink(path) }
        #expect(fd >= 0)
        ftruncate(fd, 1 << 20)
        let backend = try FileBlockBackend(path: path, readOnly: false, directIO: false)
        #expect(backend.capacityBytes == 1 << 20)
        #expect(backend.isSameFile(as: path))
        #expect(!backend.isSameFile(as: "/dev/null"))
        ftruncate(fd, 3 << 20)
        #expect(try backend.refreshCapacity() == 3 << 20)
        #expect(backend.capacityBytes == 3 << 20)
        ftruncate(fd, 100)
        #expect(throws: BlockBackendError.self) { _ = try backend.refreshCapacity() }
        #expect(backend.capacityBytes == 3 << 20, "a refused refresh changes nothing")
        close(fd)
    }
}
