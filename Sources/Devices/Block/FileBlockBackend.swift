import EventLoop
import CHostIO
import GuestMemory
import Synchronization
@_spi(ExitPath) import Virtio

#if canImport(Glibc)
    import Glibc
#endif

/// Why a disk image cannot be used.
package enum BlockBackendError: Error, Equatable, Sendable, CustomStringConvertible {
    case cannotOpen(path: String, errno: Int32)
    case notADisk(path: String)
    /// Another open file holds a conflicting OFD lock (`readOnly`: we asked for a shared lock).
    case locked(path: String, readOnly: Bool)
    case tooSmall(path: String, bytes: UInt64)
    /// Smaller than the size the configuration declares.
    case smallerThanDeclared(path: String, bytes: UInt64, declaredBytes: UInt64)
    /// Opening for writing failed with EROFS.
    case readOnlyFileSystem(path: String)
    /// Creating a missing image failed.
    case cannotCreate(path: String, errno: Int32)
    /// A replacement image cannot take the place of the current one.
    case incompatibleReplacement(reason: String)

    package var description: String {
        switch self {
        case .cannotOpen(let path, let code):
            return "cannot open '\(path)': \(String(cString: strerror(code))) (errno \(code))"
        case .notADisk(let path):
            return "'\(path)' is neither a regular file nor a block device"
        case .locked(_, let readOnly):
            return "another process holds a\(readOnly ? " write" : "") lock on it (an OFD lock, as QEMU takes);"
                + " stop the other VMM\(readOnly ? "" : ", open the disk read-only in both,") or use a copy of the image"
        case .tooSmall(let path, let bytes):
            return "'\(path)' has \(bytes) bytes; a disk needs at least one 512-byte sector"
        case .smallerThanDeclared(let path, let bytes, let declared):
            return "'\(path)' has \(bytes) bytes (\(bytes >> 20) MiB), less than the declared \(declared >> 20) MiB;"
                + " use a larger image or volume, or declare its size"
        case .readOnlyFileSystem(let path):
            return "'\(path)' is on a read-only file system; mount the volume read-write or set read_only"
        case .cannotCreate(let path, let code):
            return "cannot create '\(path)': \(String(cString: strerror(code))) (errno \(code))"
        case .incompatibleReplacement(let reason):
            return "the new image cannot replace the disk: \(reason) (the guest's driver negotiated them)"
        }
    }
}

/// A raw disk image in a file or a block device. Reads and writes go straight between the file
/// and guest memory (preadv/pwritev). Locks: an OFD lock on the whole file, shared for
/// read-only disks and exclusive for writable ones (as QEMU takes them), held while open.
/// `cache=none` opens with O_DIRECT; requests whose buffers are not 512-byte aligned fall back
/// to a second, buffered descriptor of the same file.
package final class FileBlockBackend: BlockBackend {
    package let path: String
    /// Size in bytes, a multiple of 512 (read again by `refreshCapacity()`).
    package var capacityBytes: UInt64 { capacity.load(ordering: .relaxed) }
    private let capacity: Atomic<UInt64>
    package let isReadOnly: Bool
    package let supportsDiscard: Bool
    /// The descriptor used for aligned requests (O_DIRECT with cache=none); it holds the lock.
    private let primary: Int32
    /// With cache=none: a buffered descriptor for requests O_DIRECT cannot take.
    private let buffered: Int32?

    /// Creates `path` as a sparse image of `bytes` when it does not exist (never touching an
    /// existing file, nor following a link planted there); owner-only (0600: it will hold the
    /// guest's data). Returns whether it created one.
    package static func createSparseImage(path: String, bytes: UInt64) throws(BlockBackendError) -> Bool {
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o600)
        if fd < 0 {
            if errno == EEXIST { return false }
            if errno == EROFS { throw .readOnlyFileSystem(path: path) }
            throw .cannotCreate(path: path, errno: errno)
        }
        defer { close(fd) }
        guard let length = off_t(exactly: bytes), ftruncate(fd, length) == 0 else {
            let code = errno
            unlink(path)
            throw .cannotCreate(path: path, errno: code)
        }
        return true
    }

    /// Opens `path` (read-only or read-write), takes the lock, and reads the size, which must be
    /// at least `declaredBytes` when given.
    package init(path: String, readOnly: Bool, directIO: Bool, declaredBytes: UInt64? = nil)
        throws(BlockBackendError)
    {
        self.path = path
        isReadOnly = readOnly
        let access = readOnly ? O_RDONLY : O_RDWR
        // Open, then judge what was opened (fstat): a stat of the path first could be answered
        // by a file that a FIFO replaces before the open. O_NONBLOCK keeps a FIFO (or a
        // device that waits on open) from blocking; links are followed (/dev/disk/by-id/...).
        let fd = open(path, access | O_NONBLOCK | O_CLOEXEC | (directIO ? CHOSTIO_O_DIRECT : 0))
        guard fd >= 0 else {
            if errno == EROFS { throw .readOnlyFileSystem(path: path) }
            if errno == EISDIR { throw .notADisk(path: path) }
            throw .cannotOpen(path: path, errno: errno)
        }
        let kind: mode_t
        let bytes: UInt64
        do {
            (kind, bytes) = try Self.size(of: fd, path: path)
            try Self.clearNonBlocking(fd, path: path)
        } catch {
            close(fd)
            throw error
        }
        guard chostio_ofd_lock(fd, readOnly ? 0 : 1) == 0 else {
            close(fd)
            throw .locked(path: path, readOnly: readOnly)
        }
        capacity = Atomic(Self.wholeSectors(bytes))
        if let declaredBytes, bytes < declaredBytes {
            close(fd)
            throw .smallerThanDeclared(path: path, bytes: bytes, declaredBytes: declaredBytes)
        }
        guard capacity.load(ordering: .relaxed) > 0 else {
            close(fd)
            throw .tooSmall(path: path, bytes: bytes)
        }
        supportsDiscard = kind == S_IFREG && !readOnly
        primary = fd
        if directIO {
            // The same file again, buffered: opened by path, so checked to be the same inode.
            let second = open(path, access | O_NONBLOCK | O_CLOEXEC)
            guard second >= 0 else {
                let code = errno
                close(fd)
                throw .cannotOpen(path: path, errno: code)
            }
            var first = stat()
            var other = stat()
            do throws(BlockBackendError) {
                guard fstat(fd, &first) == 0, fstat(second, &other) == 0 else {
                    throw .cannotOpen(path: path, errno: errno)
                }
                guard first.st_dev == other.st_dev, first.st_ino == other.st_ino else {
                    throw .cannotOpen(path: path, errno: ESTALE)
                }
                try Self.clearNonBlocking(second, path: path)
            } catch {
                close(second)
                close(fd)
                throw error
            }
            buffered = second
        } else {
            buffered = nil
        }
    }

    /// Whether `path` names the file or device this backend has open (same device and inode).
    package func isSameFile(as path: String) -> Bool {
        var named = stat()
        var open = stat()
        guard stat(path, &named) == 0, fstat(primary, &open) == 0 else { return false }
        return named.st_dev == open.st_dev && named.st_ino == open.st_ino
    }

    /// Reads the size of the open file or device again (it was grown or shrunk on the host);
    /// returns the new capacity. A size below one sector, or below `declaredBytes` when given,
    /// is refused and changes nothing.
    package func refreshCapacity(declaredBytes: UInt64? = nil) throws(BlockBackendError) -> UInt64 {
        let (_, bytes) = try Self.size(of: primary, path: path)
        if let declaredBytes, bytes < declaredBytes {
            throw .smallerThanDeclared(path: path, bytes: bytes, declaredBytes: declaredBytes)
        }
        let sectors = Self.wholeSectors(bytes)
        guard sectors > 0 else { throw .tooSmall(path: path, bytes: bytes) }
        capacity.store(sectors, ordering: .relaxed)
        return sectors
    }

    /// The kind (regular file or block device) and size in bytes of the open `descriptor`.
    private static func size(of descriptor: Int32, path: String) throws(BlockBackendError) -> (mode_t, UInt64) {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .cannotOpen(path: path, errno: errno) }
        let kind = status.st_mode & S_IFMT
        switch kind {
        case S_IFREG:
            return (kind, UInt64(max(0, status.st_size)))
        case S_IFBLK:
            var bytes: UInt64 = 0
            guard chostio_block_device_size(descriptor, &bytes) == 0 else {
                throw .cannotOpen(path: path, errno: errno)
            }
            return (kind, bytes)
        default:
            throw .notADisk(path: path)
        }
    }

    /// Clears O_NONBLOCK (set for the open only): io_uring would fail a request on an
    /// O_NONBLOCK file with EAGAIN instead of waiting for the disk.
    private static func clearNonBlocking(_ descriptor: Int32, path: String) throws(BlockBackendError) {
        let flags = fcntl(descriptor, F_GETFL)
        guard flags >= 0, fcntl(descriptor, F_SETFL, flags & ~O_NONBLOCK) == 0 else {
            throw .cannotOpen(path: path, errno: errno)
        }
    }

    /// `bytes` rounded down to whole sectors (the rest of a file is not exposed).
    private static func wholeSectors(_ bytes: UInt64) -> UInt64 {
        bytes / BlockRequest.sectorSize * BlockRequest.sectorSize
    }

    deinit {
        if let buffered { close(buffered) }
        close(primary)  // releases the OFD lock
    }

    /// The descriptor for a request: the buffered one when O_DIRECT's 512-byte alignment of
    /// offset, addresses and lengths does not hold.
    private func descriptor(offset: UInt64, buffers: [DescriptorBuffer]) -> Int32 {
        guard let buffered else { return primary }
        let aligned =
            offset % 512 == 0 && buffers.allSatisfy { $0.address.rawValue % 512 == 0 && $0.length % 512 == 0 }
        return aligned ? primary : buffered
    }

    private func inRange(_ offset: UInt64, _ length: UInt64) -> Bool {
        offset <= capacityBytes && length <= capacityBytes - offset
    }

    package func transferDescriptor(offset: UInt64, buffers: [DescriptorBuffer], writing: Bool) -> Int32? {
        guard !(writing && isReadOnly), inRange(offset, buffers.totalLength) else { return nil }
        return descriptor(offset: offset, buffers: buffers)
    }

    package var flushDescriptor: Int32? { isReadOnly ? nil : primary }

    package func read(at offset: UInt64, into buffers: [DescriptorBuffer], memory: GuestMemory) -> BlockRequest.Status {
        let length = buffers.totalLength
        guard let fd = transferDescriptor(offset: offset, buffers: buffers, writing: false) else { return .ioError }
        let pieces = buffers.map { (address: $0.address, length: $0.length) }
        guard case .success(let count)? = try? memory.read(from: fd, offset: offset, into: pieces),
            UInt64(count) == length
        else { return .ioError }
        return .ok
    }

    package func write(at offset: UInt64, from buffers: [DescriptorBuffer], memory: GuestMemory) -> BlockRequest.Status
    {
        let length = buffers.totalLength
        guard let fd = transferDescriptor(offset: offset, buffers: buffers, writing: true) else { return .ioError }
        let pieces = buffers.map { (address: $0.address, length: $0.length) }
        guard case .success(let count)? = try? memory.write(to: fd, offset: offset, from: pieces),
            UInt64(count) == length
        else { return .ioError }
        return .ok
    }

    package func flush() -> BlockRequest.Status {
        guard !isReadOnly else { return .ok }
        while fdatasync(primary) != 0 {
            if errno != EINTR { return .ioError }
        }
        return .ok
    }

    package func discard(at offset: UInt64, length: UInt64) -> BlockRequest.Status {
        guard supportsDiscard else { return .unsupported }
        guard inRange(offset, length) else { return .ioError }
        return chostio_punch_hole(primary, offset, length) == 0 ? .ok : .ioError
    }

    package func writeZeroes(at offset: UInt64, length: UInt64, unmap: Bool) -> BlockRequest.Status {
        guard supportsDiscard else { return .unsupported }
        guard inRange(offset, length) else { return .ioError }
        if unmap, chostio_punch_hole(primary, offset, length) == 0 { return .ok }
        if chostio_zero_range(primary, offset, length) == 0 { return .ok }
        // File systems without ZERO_RANGE: write zeros, a chunk at a time.
        let chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var done: UInt64 = 0
        while done < length {
            let count = Int(min(UInt64(chunk.count), length - done))
            let piece = count == chunk.count ? chunk : Array(chunk.prefix(count))
            guard case .success = DescriptorIO.writeAll(buffered ?? primary, piece, offset: offset + done) else {
                return .ioError
            }
            done += UInt64(count)
        }
        return .ok
    }
}
