import StrictCoding

/// A tiny guest given as machine code: loaded at `loadAddress` and entered directly in the
/// chosen CPU mode with the given registers. For exit-loop benchmarks and tests, where a
/// kernel would only add noise.
public struct RawCodeBoot: Sendable, Equatable, Codable {
    /// The CPU mode the code starts in.
    public enum Mode: String, Sendable, Codable, CaseIterable {
        /// 16-bit real mode, CS = 0, IP = load address (below 64 KiB). KVM emulates it on PVM hosts.
        case real16 = "real16"
        /// 64-bit long mode at CPL 3 with IOPL 3, the first 4 GiB identity-mapped with user pages.
        /// Runs natively on PVM hosts. There is no IDT: any exception is a triple fault.
        case long64User = "long64_user"
    }

    /// Initial register values (the rest are 0).
    public struct Registers: Sendable, Equatable, Codable {
        /// General-purpose registers at entry.
        public var rax: UInt64 = 0, rbx: UInt64 = 0, rcx: UInt64 = 0, rdx: UInt64 = 0
        /// Index registers at entry.
        public var rsi: UInt64 = 0, rdi: UInt64 = 0

        /// Registers with these values (the rest 0).
        public init(
            rax: UInt64 = 0, rbx: UInt64 = 0, rcx: UInt64 = 0, rdx: UInt64 = 0, rsi: UInt64 = 0, rdi: UInt64 = 0
        ) {
            self.rax = rax
            self.rbx = rbx
            self.rcx = rcx
            self.rdx = rdx
            self.rsi = rsi
            self.rdi = rdi
        }

        /// The JSON keys, in the order they are encoded.
        static let keys: StrictKeys<Self> = [
            .field("rax", \.rax), .field("rbx", \.rbx), .field("rcx", \.rcx), .field("rdx", \.rdx),
            .field("rsi", \.rsi), .field("rdi", \.rdi),
        ]

        public init(from decoder: any Decoder) throws { self = try Self.keys.decode(decoder, into: Self()) }

        public func encode(to encoder: any Encoder) throws { try Self.keys.encode(self, to: encoder) }
    }

    /// Lowest address code may be loaded at: below it lie the page tables and the stack.
    public static let minimumLoadAddress: UInt64 = 0x8000
    /// Default load address.
    public static let defaultLoadAddress: UInt64 = 0x8000

    /// The guest's code bytes.
    public var code: [UInt8]
    /// Where the code is loaded and starts.
    public var loadAddress: UInt64
    /// The CPU mode at entry.
    public var mode: Mode
    /// Register values at entry.
    public var registers: Registers

    /// Raw code of `code` at `loadAddress` in `mode`.
    public init(
        code: [UInt8], loadAddress: UInt64 = RawCodeBoot.defaultLoadAddress, mode: Mode, registers: Registers = .init()
    ) {
        self.code = code
        self.loadAddress = loadAddress
        self.mode = mode
        self.registers = registers
    }

    /// The JSON keys, in the order they are encoded.
    static let keys: StrictKeys<Self> = [
        .required("code", \.code), .field("load_address", \.loadAddress), .required("mode", \.mode),
        .field("registers", \.registers),
    ]

    public init(from decoder: any Decoder) throws {
        self = try Self.keys.decode(decoder, into: Self(code: [], mode: .real16))
    }

    public func encode(to encoder: any Encoder) throws { try Self.keys.encode(self, to: encoder) }
}
