import EventLoop
import Synchronization

/// A 16550A UART (as at COM1, 0x3f8): transmit to a `ConsoleOutput`, receive from host input,
/// the divisor latch, FIFO control, modem control with loopback, and interrupt identification.
/// Interrupts go out as edges on an `EventFD` registered as a KVM irqfd.
/// SPI-public for cross-module inlining on the exit path (see `VCPUFD` in KVM).
@_spi(ExitPath) public final class Serial16550: Sendable {
    /// COM1's port base and its ISA interrupt.
    package static let com1Port: UInt16 = 0x3f8
    package static let com1IRQ: UInt32 = 4
    package static let portCount: UInt64 = 8

    /// Largest number of received bytes buffered before more host input is refused.
    package static let receiveBufferLimit = 4096

    // Register bits.
    static let ierReceivedData: UInt8 = 0x01
    static let ierTransmitterEmpty: UInt8 = 0x02
    static let ierLineStatus: UInt8 = 0x04
    static let iirNoInterrupt: UInt8 = 0x01
    static let iirTransmitterEmpty: UInt8 = 0x02
    static let iirReceivedData: UInt8 = 0x04
    static let iirFIFOsEnabled: UInt8 = 0xc0
    static let lcrDivisorLatch: UInt8 = 0x80
    static let lsrDataReady: UInt8 = 0x01
    static let lsrOverrun: UInt8 = 0x02
    static let lsrTransmitterHoldingEmpty: UInt8 = 0x20
    static let lsrTransmitterEmpty: UInt8 = 0x40
    static let mcrLoopback: UInt8 = 0x10
    static let fcrEnable: UInt8 = 0x01
    static let fcrClearReceive: UInt8 = 0x02

    struct State {
        var interruptEnable: UInt8 = 0
        var lineControl: UInt8 = 0x03  // 8N1
        var modemControl: UInt8 = 0x08  // OUT2
        var scratch: UInt8 = 0
        var divisorLow: UInt8 = 0x0c  // 9600 baud
        var divisorHigh: UInt8 = 0
        var fifoEnabled = false
        var overrun = false
        var transmitterEmptyPending = false
        /// Host input was refused for lack of room: signal `roomForInput` when the guest reads.
        var inputWaitsForRoom = false
        /// Received bytes not read yet: a ring of fixed size, so nothing the guest does (loopback
        /// writes, reads in any order) can make it grow.
        var received = ReceiveRing()
        var receivedCount: Int { received.count }
    }

    /// A fixed-capacity FIFO of received bytes.
    struct ReceiveRing {
        private(set) var storage = [UInt8](repeating: 0, count: Serial16550.receiveBufferLimit)
        private var head = 0
        private(set) var count = 0

        var isFull: Bool { count == storage.count }

        /// Appends `byte`; false (nothing stored) when full.
        mutating func append(_ byte: UInt8) -> Bool {
            guard !isFull else { return false }
            storage[(head + count) % storage.count] = byte
            count += 1
            return true
        }

        /// Takes the oldest byte.
        mutating func removeFirst() -> UInt8? {
            guard count > 0 else { return nil }
            let byte = storage[head]
            head = (head + 1) % storage.count
            count -= 1
            return byte
        }

        mutating func removeAll() {
            head = 0
            count = 0
        }
    }

    private let state = Mutex(State())

    /// Bytes of receive storage (fixed: `receiveBufferLimit`), for tests.
    var receiveStorageBytes: Int { state.withLock { $0.received.storage.count } }
    private let output: ConsoleOutput
    private let interrupt: EventFD?
    /// Signalled when the guest reads a byte after `enqueueInput` refused some for lack of room
    /// (the host's input pump waits on it instead of polling).
    package let roomForInput: EventFD?

    /// A UART that writes to `output` and signals `interrupt` (nil: no interrupts).
    package init(output: ConsoleOutput, interrupt: EventFD?) {
        self.output = output
        self.interrupt = interrupt
        self.roomForInput = try? EventFD()
    }

    /// A guest write of `value` to register `offset`.
    package func write(offset: UInt64, size: Int, value: UInt64) -> MachineRequest? {
        let byte = UInt8(truncatingIfNeeded: value)
        var transmit: UInt8?
        let raise: Bool = state.withLock { state in
            let before = Self.pendingInterrupt(state)
            let divisorLatch = state.lineControl & Self.lcrDivisorLatch != 0
            switch offset {
            case 0 where divisorLatch: state.divisorLow = byte
            case 0:
                if state.modemControl & Self.mcrLoopback != 0 {
                    Self.receive(byte, into: &state)
                } else {
                    transmit = byte
                }
                state.transmitterEmptyPending = true
            case 1 where divisorLatch: state.divisorHigh = byte
            case 1:
                let enablesTransmitterInterrupt =
                    state.interruptEnable & Self.ierTransmitterEmpty == 0 && byte & Self.ierTransmitterEmpty != 0
                state.interruptEnable = byte & 0x0f
                if enablesTransmitterInterrupt { state.transmitterEmptyPending = true }
            case 2:
                state.fifoEnabled = byte & Self.fcrEnable != 0
                if byte & Self.fcrClearReceive != 0 { state.received.removeAll() }
            case 3: state.lineControl = byte
            case 4: state.modemControl = byte & 0x1f
            case 7: state.scratch = byte
            default: break  // LSR and MSR are read-only
            }
            return before == Self.iirNoInterrupt && Self.pendingInterrupt(state) != Self.iirNoInterrupt
        }
        if let transmit { output.write([transmit]) }
        if raise { interrupt?.signal() }
        return nil
    }

    /// A guest read of register `offset`.
    package func read(offset: UInt64, size: Int) -> UInt64 {
        var madeRoom = false
        let value: UInt8 = state.withLock { state in
            let divisorLatch = state.lineControl & Self.lcrDivisorLatch != 0
            switch offset {
            case 0 where divisorLatch: return state.divisorLow
            case 0:
                guard let byte = state.received.removeFirst() else { return 0 }
                if state.inputWaitsForRoom {
                    state.inputWaitsForRoom = false
                    madeRoom = true
                }
                return byte
            case 1 where divisorLatch: return state.divisorHigh
            case 1: return state.interruptEnable
            case 2:
                let identification = Self.pendingInterrupt(state)
                // Reading IIR acknowledges a transmitter-empty interrupt.
                if identification == Self.iirTransmitterEmpty { state.transmitterEmptyPending = false }
                return identification | (state.fifoEnabled ? Self.iirFIFOsEnabled : 0)
            case 3: return state.lineControl
            case 4: return state.modemControl
            case 5:
                var status = Self.lsrTransmitterHoldingEmpty | Self.lsrTransmitterEmpty
                if state.receivedCount > 0 { status |= Self.lsrDataReady }
                if state.overrun {
                    status |= Self.lsrOverrun
                    state.overrun = false
                }
                return status
            case 6:
                if state.modemControl & Self.mcrLoopback != 0 {
                    // Loopback: DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD.
                    let control = state.modemControl
                    let status =
                        ((control & 0x01) << 5) | ((control & 0x02) << 3) | ((control & 0x04) << 4)
                        | ((control & 0x08) << 4)
                    return status
                }
                return 0xb0  // DCD, DSR, CTS: a connected line
            case 7: return state.scratch
            default: return 0xff
            }
        }
        if madeRoom { roomForInput?.signal() }
        return UInt64(value)
    }

    /// Host input for the guest. Returns how many bytes were accepted; the rest should be
    /// offered again once `roomForInput` is signalled (the guest has read from its buffer).
    @discardableResult
    package func enqueueInput(_ bytes: some Collection<UInt8>) -> Int {
        let (accepted, raise): (Int, Bool) = state.withLock { state in
            let before = Self.pendingInterrupt(state)
            var accepted = 0
            for byte in bytes {
                guard state.received.append(byte) else { break }
                accepted += 1
            }
            if accepted < bytes.count { state.inputWaitsForRoom = true }
            return (accepted, before == Self.iirNoInterrupt && Self.pendingInterrupt(state) != Self.iirNoInterrupt)
        }
        if raise { interrupt?.signal() }
        return accepted
    }

    /// Whether the guest has consumed all input (so more can be offered).
    package var receiveBufferHasRoom: Bool { state.withLock { $0.receivedCount < Self.receiveBufferLimit } }

    private static func receive(_ byte: UInt8, into state: inout State) {
        if !state.received.append(byte) { state.overrun = true }
    }

    /// The interrupt identification value (IIR bits 0–3) for the current state.
    static func pendingInterrupt(_ state: State) -> UInt8 {
        if state.interruptEnable & ierReceivedData != 0, state.receivedCount > 0 { return iirReceivedData }
        if state.interruptEnable & ierTransmitterEmpty != 0, state.transmitterEmptyPending {
            return iirTransmitterEmpty
        }
        return iirNoInterrupt
    }
}
