import StrictCoding

/// A virtio-blk disk: a raw image file or block device.
public struct DiskConfiguration: Sendable, Equatable, Codable {
    /// Host page cache use.
    public enum Cache: String, Sendable, Codable, CaseIterable {
        /// Through the host page cache; FLUSH makes writes durable (fdatasync).
        case writeback
        /// O_DIRECT: around the host page cache (unaligned requests fall back to buffered I/O).
        case none
    }

    /// How reads, writes and flushes run (QEMU's `aio`).
    public enum AsyncIO: String, Sendable, Codable, CaseIterable {
        /// io_uring where the host allows it, else the worker threads (a container runtime's
        /// default seccomp profile refuses io_uring; the log says which was taken).
        case auto
        /// io_uring (liburing): many requests in flight; an error when the host refuses it.
        case ioUring = "io_uring"
        /// A pool of worker threads (preadv/pwritev, fdatasync).
        case threads
        /// One request after another on the I/O thread (adjacent ones merged).
        case sync
    }

    /// The image file or block device.
    public var path: String
    /// Offer the disk read-only (VIRTIO_BLK_F_RO); the image is opened read-only.
    public var readOnly: Bool
    /// GET_ID answer (at most 20 bytes).
    public var serial: String?
    /// Host page cache use.
    public var cache: Cache
    /// The size the disk must have at least, in MiB (a volume's declared capacity); a smaller
    /// image or device is an error before the guest starts.
    public var sizeMiB: Int?
    /// When the image file does not exist, create it sparse with this many MiB (KubeVirt's
    /// hostDisk `DiskOrCreate`); an existing image must have at least this size.
    public var createSizeMiB: Int?
    /// Request queues offered to the guest (VIRTIO_BLK_F_MQ when more than one), each notified
    /// through its own ioeventfd.
    public var queues: Int
    /// How reads, writes and flushes run.
    public var aio: AsyncIO

    /// The most request queues a disk offers.
    public static let maximumQueues = 32

    /// A disk backed by `path`.
    public init(
        path: String, readOnly: Bool = false, serial: String? = nil, cache: Cache = .writeback, sizeMiB: Int? = nil,
        createSizeMiB: Int? = nil, queues: Int = 1, aio: AsyncIO = .auto
    ) {
        self.path = path
        self.readOnly = readOnly
        self.serial = serial
        self.cache = cache
        self.sizeMiB = sizeMiB
        self.createSizeMiB = createSizeMiB
        self.queues = queues
        self.aio = aio
    }

    /// The smallest size the disk may have: the larger of `sizeMiB` and `createSizeMiB` (a size
    /// beyond 64 bits of bytes reads as `UInt64.max`: no image has it; a negative one, which
    /// `validate` refuses, as no size).
    var declaredBytes: UInt64? {
        guard let mib = [sizeMiB, createSizeMiB].compactMap({ $0 }).max(), mib >= 0 else { return nil }
        return Mebibytes.bytes(mib) ?? .max
    }

    /// The size of an image `createSizeMiB` creates, in bytes; nil without one (or with a size
    /// `validate` refuses).
    var createBytes: UInt64? { createSizeMiB.flatMap { Mebibytes.bytes($0) } }

    /// Sizes are capped at 2^40 MiB (1 EiB), far above any device.
    static let maximumSizeMiB = 1 << 40

    /// The JSON keys, in the order they are encoded.
    static let keys: StrictKeys<Self> = [
        .required("path", \.path), .field("read_only", \.readOnly), .field("serial", \.serial),
        .field("cache", \.cache), .field("size_mib", \.sizeMiB), .field("create_size_mib", \.createSizeMiB),
        .field("queues", \.queues), .field("aio", \.aio),
    ]

    public init(from decoder: any Decoder) throws { self = try Self.keys.decode(decoder, into: Self(path: "")) }

    public func encode(to encoder: any Encoder) throws { try Self.keys.encode(self, to: encoder) }

    /// Parses the command-line form
    /// `path=PATH[,readonly=on|off][,serial=S][,cache=none|writeback][,size_mib=N][,create_size_mib=N]`
    /// `[,queues=N][,aio=auto|io_uring|threads|sync]`
    /// (`field` names the flag in errors, e.g. "--disk").
    public init(argument: String, field: String = "disk") throws(MachineError) {
        var path: String?
        var readOnly = false
        var serial: String?
        var cache = Cache.writeback
        var sizes: [String: Int] = [:]
        var queues = 1
        var aio = AsyncIO.auto
        for option in argument.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else {
                throw .invalidValue(
                    field: field, value: String(option),
                    expected: "key=value options: path=, readonly=, serial=, cache=")
            }
            switch parts[0] {
            case "path": path = parts[1]
            case "readonly", "read_only":
                switch parts[1] {
                case "on", "true", "yes": readOnly = true
                case "off", "false", "no": readOnly = false
                default: throw .invalidValue(field: "\(field) readonly", value: parts[1], expected: "on or off")
                }
            case "serial": serial = parts[1]
            case "size_mib", "create_size_mib":
                guard let mib = Int(parts[1]) else {
                    throw .invalidValue(
                        field: "\(field) \(parts[0])", value: parts[1], expected: "a whole number of MiB")
                }
                sizes[parts[0]] = mib
            case "queues":
                guard let count = Int(parts[1]) else {
                    throw .invalidValue(field: "\(field) queues", value: parts[1], expected: "a whole number of queues")
                }
                queues = count
            case "aio":
                guard let value = AsyncIO(rawValue: parts[1]) else {
                    throw .invalidValue(
                        field: "\(field) aio", value: parts[1], expected: "auto, io_uring, threads or sync")
                }
                aio = value
            case "cache":
                guard let value = Cache(rawValue: parts[1]) else {
                    throw .invalidValue(field: "\(field) cache", value: parts[1], expected: "none or writeback")
                }
                cache = value
            default:
                throw .invalidValue(
                    field: field, value: parts[0],
                    expected: "one of path, readonly, serial, cache, size_mib, create_size_mib, queues, aio")
            }
        }
        guard let path, !path.isEmpty else {
            throw .invalidValue(field: field, value: argument, expected: "path=PATH")
        }
        self.init(
            path: path, readOnly: readOnly, serial: serial, cache: cache, sizeMiB: sizes["size_mib"],
            createSizeMiB: sizes["create_size_mib"], queues: queues, aio: aio)
    }

    package func validate(field: String) throws(MachineError) {
        guard !path.isEmpty else {
            throw .invalidValue(field: "\(field).path", value: "", expected: "a disk image path")
        }
        if let serial, serial.utf8.count > 20 {
            throw .invalidValue(field: "\(field).serial", value: serial, expected: "at most 20 bytes")
        }
        for (key, value) in [("size_mib", sizeMiB), ("create_size_mib", createSizeMiB)] {
            if let value, !(1...Self.maximumSizeMiB).contains(value) {
                throw .invalidValue(
                    field: "\(field).\(key)", value: "\(value)", expected: "1 to \(Self.maximumSizeMiB) MiB")
            }
        }
        guard (1...Self.maximumQueues).contains(queues) else {
            throw .invalidValue(field: "\(field).queues", value: "\(queues)", expected: "1 to \(Self.maximumQueues)")
        }
        if createSizeMiB != nil, readOnly {
            throw .invalidValue(
                field: "\(field).create_size_mib", value: "\(createSizeMiB ?? 0)",
                expected: "no create_size_mib on a read-only disk (a new image would be empty)")
        }
    }
}
