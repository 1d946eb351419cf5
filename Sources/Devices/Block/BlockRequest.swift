import GuestMemory
import Virtio

/// A virtio-blk request parsed from a descriptor chain (virtio 1.x, 5.2.6), before anything is
/// executed: header, data buffers and where the status byte goes, all validated.
public struct BlockRequest: Sendable, Equatable {
    public static let sectorSize: UInt64 = 512
    public static let headerSize: UInt64 = 16
    public static let identifierSize: UInt32 = 20

    /// Request types (VIRTIO_BLK_T_*).
    public enum RequestType: UInt32, Sendable {
        case read = 0
        case write = 1
        case flush = 4
        case getIdentifier = 8
        case discard = 11
        case writeZeroes = 13
    }

    /// Status values (VIRTIO_BLK_S_*).
    public enum Status: UInt8, Sendable {
        case ok = 0
        case ioError = 1
        case unsupported = 2
    }

    /// One DISCARD / WRITE_ZEROES range.
    public struct Range: Sendable, Equatable {
        public var sector: UInt64
        public var sectorCount: UInt32
        /// VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP.
        public var unmap: Bool
    }

    /// What the request asks for.
    public enum Operation: Sendable, Equatable {
        case read(sector: UInt64, into: [DescriptorBuffer])
        case write(sector: UInt64, from: [DescriptorBuffer])
        case flush
        case getIdentifier(into: [DescriptorBuffer])
        case discard([Range])
        case writeZeroes([Range])
        /// A type this device does not implement: answered with UNSUPP.
        case unsupported(type: UInt32)
        /// A malformed request whose status byte can still be written: answered with IOERR.
        case malformed(String)
    }

    public let operation: Operation
    /// Where the status byte goes.
    public let status: GuestAddress
    /// Bytes of data the device may write before the status (for the used-ring length).
    public let writableDataLength: UInt64

    public init(operation: Operation, status: GuestAddress, writableDataLength: UInt64) {
        self.operation = operation
        self.status = status
        self.writableDataLength = writableDataLength
    }

    /// For reads and writes: the first sector, the sector count and the direction.
    public var transfer: (sector: UInt64, sectors: UInt64, isWrite: Bool)? {
        switch operation {
        case .read(let sector, let buffers): return (sector, buffers.totalLength / Self.sectorSize, false)
        case .write(let sector, let buffers): return (sector, buffers.totalLength / Self.sectorSize, true)
        default: return nil
        }
    }

    /// For reads and writes: the data buffers.
    public var dataBuffers: [DescriptorBuffer]? {
        switch operation {
        case .read(_, let buffers), .write(_, let buffers): return buffers
        default: return nil
        }
    }

    /// Parses `chain`. Returns nil when the chain has no device-writable status byte (then not
    /// even an error status can be written; complete it with length 0).
    public static func parse(_ chain: DescriptorChain, memory: GuestMemory) -> BlockRequest? {
        guard let status = chain.writable.address(ofLastBytes: 1),
            let writableData = chain.writable.droppingLast(bytes: 1)
        else { return nil }
        func malformed(_ reason: String) -> BlockRequest {
            BlockRequest(operation: .malformed(reason), status: status, writableDataLength: 0)
        }
        var reader = ChainReader(chain, memory: memory)
        guard let type = try? reader.read(UInt32.self), (try? reader.read(UInt32.self)) != nil,
            let sector = try? reader.read(UInt64.self)
        else { return malformed("header shorter than 16 bytes") }
        guard let readableData = chain.readable.droppingFirst(bytes: headerSize) else {
            return malformed("header shorter than 16 bytes")
        }
        switch RequestType(rawValue: type) {
        case .read:
            guard readableData.isEmpty else { return malformed("read request with device-readable data") }
            guard writableData.totalLength % sectorSize == 0 else {
                return malformed("read length not a multiple of 512")
            }
            return BlockRequest(
                operation: .read(sector: sector, into: writableData), status: status,
                writableDataLength: writableData.totalLength)
        case .write:
            guard writableData.isEmpty else { return malformed("write request with device-writable data") }
            guard readableData.totalLength % sectorSize == 0 else {
                return malformed("write length not a multiple of 512")
            }
            return BlockRequest(
                operation: .write(sector: sector, from: readableData), status: status, writableDataLength: 0)
        case .flush:
            return BlockRequest(operation: .flush, status: status, writableDataLength: 0)
        case .getIdentifier:
            guard readableData.isEmpty, writableData.totalLength >= UInt64(identifierSize) else {
                return malformed("GET_ID needs a 20-byte device-writable buffer")
            }
            return BlockRequest(
                operation: .getIdentifier(into: writableData), status: status,
                writableDataLength: UInt64(identifierSize))
        case .discard, .writeZeroes:
            guard writableData.isEmpty, readableData.totalLength > 0, readableData.totalLength % 16 == 0 else {
                return malformed("discard/write-zeroes ranges must be 16-byte entries")
            }
            var ranges: [Range] = []
            for _ in 0..<(readableData.totalLength / 16) {
                guard let start = try? reader.read(UInt64.self), let count = try? reader.read(UInt32.self),
                    let flags = try? reader.read(UInt32.self)
                else { return malformed("truncated range") }
                ranges.append(Range(sector: start, sectorCount: count, unmap: flags & 1 != 0))
            }
            let operation: Operation = type == RequestType.discard.rawValue ? .discard(ranges) : .writeZeroes(ranges)
            return BlockRequest(operation: operation, status: status, writableDataLength: 0)
        case nil:
            return BlockRequest(operation: .unsupported(type: type), status: status, writableDataLength: 0)
        }
    }
}
