/// A tiny guest that makes exactly `exitCount` accesses of one `ExitKind`, then ends the run:
///
/// ```
///         [real16 only: mov ax, 0xFFFF; mov es, ax]
/// loop:   <access>            ; out dx,al | in al,dx | mov [rbx],al | mov al,[rbx]  (ES: in real mode)
///         dec ecx
///         jnz loop
///         mov al, 0x5A
///         out 0xf4, al        ; debug-exit: ends the run with status 0x5A
///         hlt                 ; never reached (a triple fault at CPL 3, HLT in real mode)
/// ```
///
/// RCX = `exitCount`, RDX = the port, RBX = the MMIO address (real mode: its offset from ES).
/// These bytes and registers are the single source of truth: SwiftVMM and the C loop both run them.
public struct ExitLoopGuest: Sendable, Equatable {
    public let kind: ExitKind
    public let mode: GuestMode
    /// Accesses the loop makes (loop iterations).
    public let exitCount: UInt32
    /// Machine code, loaded at `ExitLoopLayout.loadAddress`.
    public let code: [UInt8]
    public let rbx: UInt64
    public let rcx: UInt64
    public let rdx: UInt64

    /// - Precondition: `exitCount` ≥ 1 (the loop body runs before the count is tested).
    public init(kind: ExitKind, mode: GuestMode, exitCount: UInt32) {
        precondition(exitCount >= 1, "the guest loop makes at least one access")
        self.kind = kind
        self.mode = mode
        self.exitCount = exitCount
        let access = Self.accessInstruction(kind: kind, mode: mode)
        let decrementECX: [UInt8] = mode == .long64User ? [0xFF, 0xC9] : [0x66, 0x49]
        // jnz rel8 back to the access: minus the bytes of access + dec + the jnz itself.
        let backwards = -(access.count + decrementECX.count + 2)
        let loop = access + decrementECX + [0x75, UInt8(bitPattern: Int8(backwards))]
        let end: [UInt8] = [0xB0, ExitLoopLayout.finishedStatus, 0xE6, UInt8(ExitLoopLayout.debugExitPort), 0xF4]
        let prologue: [UInt8] =
            mode == .real16
            ? [
                0xB8, UInt8(ExitLoopLayout.realModeHighSegment & 0xff), UInt8(ExitLoopLayout.realModeHighSegment >> 8),
                0x8E, 0xC0,
            ]
            : []
        self.code = prologue + loop + end
        self.rcx = UInt64(exitCount)
        switch kind {
        case .portOut, .portIn: self.rdx = UInt64(ExitLoopLayout.userPort)
        case .inKernelPortWrite: self.rdx = UInt64(ExitLoopLayout.inKernelPort)
        case .mmioWrite, .mmioRead, .inKernelMMIOWrite: self.rdx = 0
        }
        let mmioAddress: UInt64?
        switch kind {
        case .mmioWrite, .mmioRead: mmioAddress = ExitLoopLayout.userMMIOAddress
        case .inKernelMMIOWrite: mmioAddress = ExitLoopLayout.inKernelMMIOAddress
        case .portOut, .portIn, .inKernelPortWrite: mmioAddress = nil
        }
        if let mmioAddress {
            self.rbx = mode == .long64User ? mmioAddress : mmioAddress - ExitLoopLayout.realModeHighSegmentBase
        } else {
            self.rbx = 0
        }
    }

    /// The one instruction that makes the access (an 8-bit access through AL).
    static func accessInstruction(kind: ExitKind, mode: GuestMode) -> [UInt8] {
        switch (kind, mode) {
        case (.portOut, _), (.inKernelPortWrite, _): return [0xEE]  // out dx, al
        case (.portIn, _): return [0xEC]  // in al, dx
        case (.mmioWrite, .long64User), (.inKernelMMIOWrite, .long64User): return [0x88, 0x03]  // mov [rbx], al
        case (.mmioRead, .long64User): return [0x8A, 0x03]  // mov al, [rbx]
        case (.mmioWrite, .real16), (.inKernelMMIOWrite, .real16): return [0x26, 0x88, 0x07]  // mov es:[bx], al
        case (.mmioRead, .real16): return [0x26, 0x8A, 0x07]  // mov al, es:[bx]
        }
    }

    /// What a complete run of this guest must have produced.
    public var expectedExits: ExpectedExits {
        let count = UInt64(exitCount)
        return ExpectedExits(
            portOut: (kind == .portOut ? count : 0) + 1,  // + the final debug-exit write
            portIn: kind == .portIn ? count : 0,
            mmioWrite: kind == .mmioWrite ? count : 0,
            mmioRead: kind == .mmioRead ? count : 0,
            inKernelPortWrites: kind == .inKernelPortWrite ? count : 0,
            inKernelMMIOWrites: kind == .inKernelMMIOWrite ? count : 0)
    }
}

/// Exit counts a run must show: user-space exits by kind (the final debug-exit write counts
/// as one port out) and writes absorbed by each ioeventfd.
public struct ExpectedExits: Sendable, Equatable, CustomStringConvertible {
    public var portOut: UInt64
    public var portIn: UInt64
    public var mmioWrite: UInt64
    public var mmioRead: UInt64
    public var inKernelPortWrites: UInt64
    public var inKernelMMIOWrites: UInt64

    public init(
        portOut: UInt64, portIn: UInt64, mmioWrite: UInt64, mmioRead: UInt64, inKernelPortWrites: UInt64,
        inKernelMMIOWrites: UInt64
    ) {
        self.portOut = portOut
        self.portIn = portIn
        self.mmioWrite = mmioWrite
        self.mmioRead = mmioRead
        self.inKernelPortWrites = inKernelPortWrites
        self.inKernelMMIOWrites = inKernelMMIOWrites
    }

    public var description: String {
        "pio out \(portOut), pio in \(portIn), mmio write \(mmioWrite), mmio read \(mmioRead), "
            + "ioeventfd pio \(inKernelPortWrites), ioeventfd mmio \(inKernelMMIOWrites)"
    }
}
