import GuestMemory
@_spi(ExitPath) import Virtio

/// A virtio-blk request parsed from a descriptor chain (virtio 1.x, 5.2.6), before anything is
/// executed: header, data buffers and where the status byte goes, all validated.
package struct BlockRequest: Sendable, Equatable {
    package static let sectorSize: UInt64 = 512
    package static let headerSize: UInt64 = 16
    package static let identifierSize: UInt32 = 20

    /// Request types (VIRTIO_BLK_T_*).
    package enum RequestType: UInt32, Sendable {
        case read = 0
        case write = 1
        case flush = 4
        case getIdentifier = 8
        case discard = 11
        case writeZeroes = 13
    }

    /// Status values (VIRTIO_BLK_S_*).
    package enum Status: UInt8, Sendable {
        case ok = 0
        case ioError = 1
        case unsupported = 2
    }

    /// The limits the device advertises in its configuration space and enforces on every
    /// request: a request beyond them completes with IOERR.
    package struct Limits: Sendable, Equatable {
        /// Data descriptors of one read or write (seg_max).
        package var dataSegments: Int
        /// Ranges of one DISCARD or WRITE_ZEROES (max_discard_seg, max_write_zeroes_seg).
        package var rangeSegments: Int
        /// Sectors of one DISCARD range (max_discard_sectors).
        package var discardSectors: UInt32
        /// Sectors of one WRITE_ZEROES range (max_write_zeroes_sectors): the fallback that writes
        /// zeros runs on the I/O thread, so this bounds the work one request can ask for.
        package var writeZeroesSectors: UInt32

        package init(dataSegments: Int, rangeSegments: Int, discardSectors: UInt32, writeZeroesSectors: UInt32) {
            self.dataSegments = dataSegments
            self.rangeSegments = rangeSegments
            self.discardSectors = discardSectors
            self.writeZeroesSectors = writeZeroesSectors
        }

        /// SwiftVMM's limits: 254 data segments (queue size − 2), one range per request, 1 GiB
        /// per discard, 16 MiB per write-zeroes.
        package static let standard = Limits(
            dataSegments: 254, rangeSegments: 1, discardSectors: 1 << 21, writeZeroesSectors: 1 << 15)
    }

    /// One DISCARD / WRITE_ZEROES range.
    package struct Range: Sendable, Equatable {
        package var sector: UInt64
        package var sectorCount: UInt32
        /// VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP.
        package var unmap: Bool
    }

    /// What the request asks for.
    package enum Operation: Sendable, Equatable {
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

    package let operation: Operation
    /// Where the status byte goes.
    package let status: GuestAddress
    /// Bytes of data the device may write before the status (for the used-ring length).
    package let writableDataLength: UInt64

    package init(operation: Operation, status: GuestAddress, writableDataLength: UInt64) {
        self.operation = operation
        self.status = status
        self.writableDataLength = writableDataLength
    }

    /// For reads and writes: the first sector, the sector count and the direction.
    package var transfer: (sector: UInt64, sectors: UInt64, isWrite: Bool)? {
        switch operation {
        case .read(let sector, let buffers): return (sector, buffers.totalLength / Self.sectorSize, false)
        case .write(let sector, let buffers): return (sector, buffers.totalLength / Self.sectorSize, true)
        default: return nil
        }
    }

    /// For reads and writes: the data buffers.
    package var dataBuffers: [DescriptorBuffer]? {
        switch operation {
        case .read(_, let buffers), .write(_, let buffers): return buffers
        default: return nil
        }
    }

    /// For reads and writes: the bytes moved.
    package var dataLength: UInt64 { dataBuffers?.totalLength ?? 0 }

    /// The bytes the request moves (reads, writes) or covers (discard, write-zeroes ranges).
    package var workBytes: UInt64 {
        switch operation {
        case .discard(let ranges), .writeZeroes(let ranges):
            return ranges.reduce(0) { $0 &+ UInt64($1.sectorCount) &* BlockRequest.sectorSize }
        default:
            return dataLength
        }
    }

    /// Flags a WRITE_ZEROES range may carry (VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP); DISCARD takes none.
    static let writeZeroesUnmapFlag: UInt32 = 1

    /// Parses `chain` under `limits`. Returns nil when the chain has no device-writable status
    /// byte (then not even an error status can be written; complete it with length 0).
    package static func parse(_ chain: DescriptorChain, memory: GuestMemory, limits: Limits = .standard)
        -> BlockRequest?
    {
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
            guard writableData.count <= limits.dataSegments else { return malformed("more segments than seg_max") }
            return BlockRequest(
                operation: .read(sector: sector, into: writableData), status: status,
                writableDataLength: writableData.totalLength)
        case .write:
            guard writableData.isEmpty else { return malformed("write request with device-writable data") }
            guard readableData.totalLength % sectorSize == 0 else {
                return malformed("write length not a multiple of 512")
            }
            guard readableData.count <= limits.dataSegments else { return malformed("more segments than seg_max") }
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
            // The range count is checked before anything is read or allocated: host memory per
            // request stays bounded by the advertised limit, not by the chain's length.
            let count = readableData.totalLength / 16
            guard count <= UInt64(limits.rangeSegments) else {
                return malformed("\(count) ranges, more than max_discard_seg \(limits.rangeSegments)")
            }
            let isDiscard = type == RequestType.discard.rawValue
            let maximumSectors = isDiscard ? limits.discardSectors : limits.writeZeroesSectors
            var ranges: [Range] = []
            ranges.reserveCapacity(Int(count))
            for _ in 0..<count {
                guard let start = try? reader.read(UInt64.self), let sectors = try? reader.read(UInt32.self),
                    let flags = try? reader.read(UInt32.self)
                else { return malformed("truncated range") }
                let allowedFlags = isDiscard ? 0 : writeZeroesUnmapFlag
                guard flags & ~allowedFlags == 0 else {
                    return BlockRequest(operation: .unsupported(type: type), status: status, writableDataLength: 0)
                }
                guard sectors <= maximumSectors else {
                    return malformed("range of \(sectors) sectors, more than the advertised \(maximumSectors)")
                }
                ranges.append(Range(sector: start, sectorCount: sectors, unmap: flags & writeZeroesUnmapFlag != 0))
            }
            let operation: Operation = isDiscard ? .discard(ranges) : .writeZeroes(ranges)
            return BlockRequest(operation: operation, status: status, writableDataLength: 0)
        case nil:
            return BlockRequest(operation: .unsupported(type: type), status: status, writableDataLength: 0)
        }
    }
}
