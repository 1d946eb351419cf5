import EventLoop
import Testing

@_spi(ExitPath) @testable import Devices

#if canImport(Glibc)
    import Glibc
#endif

/// A console sink backed by a pipe, so tests can read what the UART transmitted.
private final class CapturedConsole {
    let output: ConsoleOutput
    private let readEnd: Int32

    init() {
        var fds: [Int32] = [0, 0]
        pipe(&fds)
        _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
        readEnd = fds[0]
        output = ConsoleOutput(taking: fds[1])
    }

    deinit { close(readEnd) }

    /// What reached the pipe (after the buffered output is drained, as the console thread would).
    var text: String {
        output.drain(timeoutMilliseconds: 1000)
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
        return String(decoding: buffer.prefix(max(0, count)), as: UTF8.self)
    }
}

@Suite struct Serial16550Tests {
    @Test func transmittedBytesReachTheConsole() {
        let console = CapturedConsole()
        let uart = Serial16550(output: console.output, interrupt: nil)
        for byte in "hi\n".utf8 { _ = uart.write(offset: 0, size: 1, value: UInt64(byte)) }
        #expect(console.text == "hi\n")
        #expect(uart.read(offset: 5, size: 1) & 0x60 == 0x60, "THR and transmitter empty")
    }

    @Test func divisorLatchSharesTheDataAndIERPorts() {
        let console = CapturedConsole()
        let uart = Serial16550(output: console.output, interrupt: nil)
        _ = uart.write(offset: 3, size: 1, value: 0x83)  // DLAB, 8N1
        _ = uart.write(offset: 0, size: 1, value: 0x01)  // divisor low (115200)
        _ = uart.write(offset: 1, size: 1, value: 0x00)  // divisor high
        #expect(uart.read(offset: 0, size: 1) == 0x01)
        #expect(uart.read(offset: 1, size: 1) == 0x00)
        _ = uart.write(offset: 3, size: 1, value: 0x03)
        #expect(uart.read(offset: 3, size: 1) == 0x03)
        #expect(uart.read(offset: 1, size: 1) == 0x00, "IER untouched by the divisor writes")
        _ = uart.write(offset: 0, size: 1, value: UInt64(UInt8(ascii: "x")))
        #expect(console.text == "x", "with DLAB clear, offset 0 transmits again")
    }

    @Test func interruptIdentificationFollowsPriority() throws {
        let interrupt = try EventFD()
        let uart = Serial16550(output: .discard, interrupt: interrupt)
        #expect(uart.read(offset: 2, size: 1) == 0x01, "no interrupt pending")
        _ = uart.write(offset: 1, size: 1, value: 0x02)  // enable THR-empty interrupt
        #expect(interrupt.drain() == 1, "enabling it with THR empty raises it")
        #expect(uart.read(offset: 2, size: 1) == 0x02)
        #expect(uart.read(offset: 2, size: 1) == 0x01, "reading IIR acknowledged it")
        _ = uart.write(offset: 0, size: 1, value: 0x41)
        #expect(interrupt.drain() == 1, "a transmitted byte raises THR-empty again")
        _ = uart.write(offset: 1, size: 1, value: 0x03)  // also received-data
        uart.enqueueInput([0x61, 0x62])
        #expect(uart.read(offset: 2, size: 1) == 0x04, "received data outranks THR empty")
        #expect(uart.read(offset: 5, size: 1) & 0x01 == 1, "data ready")
        #expect(uart.read(offset: 0, size: 1) == 0x61)
        #expect(uart.read(offset: 0, size: 1) == 0x62)
        #expect(uart.read(offset: 5, size: 1) & 0x01 == 0)
        #expect(uart.read(offset: 2, size: 1) == 0x02, "THR empty is still pending underneath")
        _ = uart.write(offset: 2, size: 1, value: 0x07)  // enable and clear FIFOs
        #expect(uart.read(offset: 2, size: 1) & 0xc0 == 0xc0, "FIFO-enabled bits")
    }

    @Test func noInterruptWhileDisabled() throws {
        let interrupt = try EventFD()
        let uart = Serial16550(output: .discard, interrupt: interrupt)
        _ = uart.write(offset: 0, size: 1, value: 0x41)
        uart.enqueueInput([1])
        #expect(interrupt.drain() == nil)
    }

    @Test func loopbackReturnsTransmittedBytesAndModemBits() {
        let console = CapturedConsole()
        let uart = Serial16550(output: console.output, interrupt: nil)
        _ = uart.write(offset: 4, size: 1, value: 0x1f)  // loopback + DTR RTS OUT1 OUT2
        _ = uart.write(offset: 0, size: 1, value: 0x5a)
        #expect(console.text == "", "loopback does not transmit")
        #expect(uart.read(offset: 0, size: 1) == 0x5a)
        #expect(uart.read(offset: 6, size: 1) == 0xf0, "CTS DSR RI DCD from RTS DTR OUT1 OUT2")
        _ = uart.write(offset: 4, size: 1, value: 0x08)
        #expect(uart.read(offset: 6, size: 1) == 0xb0, "a connected line without loopback")
    }

    @Test func scratchRegisterAndInputLimit() {
        let uart = Serial16550(output: .discard, interrupt: nil)
        _ = uart.write(offset: 7, size: 1, value: 0xa5)
        #expect(uart.read(offset: 7, size: 1) == 0xa5)
        let accepted = uart.enqueueInput([UInt8](repeating: 1, count: Serial16550.receiveBufferLimit + 10))
        #expect(accepted == Serial16550.receiveBufferLimit)
        #expect(!uart.receiveBufferHasRoom)
        _ = uart.read(offset: 0, size: 1)
        #expect(uart.receiveBufferHasRoom)
    }
}

@Suite struct PowerDeviceTests {
    @Test func powerButtonLatchesUntilTheGuestClearsIt() throws {
        let interrupt = try EventFD()
        let button = PowerButton(interrupt: interrupt)
        #expect(button.read(offset: 4, size: 4) == 0x4250_5653, "identification")
        #expect(button.read(offset: 0, size: 4) == 0)
        button.press()
        #expect(interrupt.drain() == 1, "an edge on the interrupt line")
        #expect(button.read(offset: 0, size: 4) == 1)
        _ = button.write(offset: 0, size: 4, value: 0)
        #expect(button.read(offset: 0, size: 4) == 1, "writing 0 clears nothing")
        _ = button.write(offset: 0, size: 4, value: 1)
        #expect(button.read(offset: 0, size: 4) == 0, "write one to clear")
        #expect(!button.isPressed)
    }

    @Test func sleepControlPowersOffOnlyForS5WithSleepEnable() {
        let control = PowerControl()
        #expect(control.write(offset: 0, size: 1, value: 0x34) == .powerOff)
        #expect(control.write(offset: 0, size: 1, value: 0x14) == nil, "S5 without SLP_EN")
        #expect(control.write(offset: 0, size: 1, value: 0x2c) == nil, "SLP_EN with S3")
        #expect(control.write(offset: 2, size: 1, value: 1) == .reset)
        #expect(control.write(offset: 2, size: 1, value: 2) == nil)
        #expect(control.read(offset: 1, size: 1) == 0)
    }

    @Test func bootTimerRecordsTheFirstMagicWriteOnly() {
        let calls = CallCounter()
        let timer = BootTimer(onReady: { _ in calls.increment() })
        #expect(timer.readyNanoseconds == nil)
        _ = timer.write(offset: 0, size: 1, value: 122)
        _ = timer.write(offset: 1, size: 1, value: 123)
        _ = timer.write(offset: 0, size: 4, value: 123)
        #expect(timer.readyNanoseconds == nil, "only a byte write of 123 at offset 0 counts")
        _ = timer.write(offset: 0, size: 1, value: 123)
        let first = timer.readyNanoseconds
        #expect(first != nil)
        _ = timer.write(offset: 0, size: 1, value: 123)
        #expect(timer.readyNanoseconds == first)
        #expect(calls.value == 1)
    }
}

private final class CallCounter: @unchecked Sendable {
    // SAFETY (@unchecked Sendable): the boot timer calls back on the test's own thread.
    var value = 0
    func increment() { value += 1 }
}

@Suite struct I8042Tests {
    @Test func onlyTheResetCommandResets() {
        let controller = I8042()
        #expect(controller.write(offset: 0, size: 1, value: 0xfe) == .reset)
        #expect(controller.write(offset: 0, size: 1, value: 0xad) == nil)
        #expect(controller.read(offset: 0, size: 1) == 0, "status: both buffers empty")
    }
}

@Suite struct SerialHostileTests {
    /// Loopback (MCR bit 4): a guest that writes and reads in a loop, always leaving one byte
    /// unread, keeps a FIFO of fixed size; the bytes come back in order.
    @Test func loopbackWithOneByteAlwaysUnreadStaysBounded() {
        let uart = Serial16550(output: .discard, interrupt: nil)
        _ = uart.write(offset: 4, size: 1, value: 0x10)  // loopback
        _ = uart.write(offset: 0, size: 1, value: 0)
        var expected: UInt8 = 0
        for iteration in 1...200_000 {
            _ = uart.write(offset: 0, size: 1, value: UInt64(UInt8(truncatingIfNeeded: iteration)))
            let byte = UInt8(truncatingIfNeeded: uart.read(offset: 0, size: 1))
            if byte != expected {
                Issue.record("iteration \(iteration): read \(byte), expected \(expected)")
                break
            }
            expected = UInt8(truncatingIfNeeded: iteration)
        }
        #expect(uart.receiveStorageBytes == Serial16550.receiveBufferLimit)
    }

    /// A full FIFO sets overrun and drops the byte (real 16550 behaviour), bounded by the limit.
    @Test func aFullReceiveFIFOOverrunsInsteadOfGrowing() {
        let uart = Serial16550(output: .discard, interrupt: nil)
        _ = uart.write(offset: 4, size: 1, value: 0x10)
        for _ in 0..<(Serial16550.receiveBufferLimit + 100) { _ = uart.write(offset: 0, size: 1, value: 0x41) }
        #expect(uart.read(offset: 5, size: 1) & 0x02 != 0, "overrun reported")
        var count = 0
        while uart.read(offset: 5, size: 1) & 0x01 != 0 {
            _ = uart.read(offset: 0, size: 1)
            count += 1
        }
        #expect(count == Serial16550.receiveBufferLimit)
    }
}

@Suite struct ConsoleOutputTests {
    /// A guest printing into a sink nobody reads (a full pipe) never blocks the vCPU: bytes past
    /// the buffer are dropped and counted.
    @Test func aStuckSinkNeverBlocksTheGuest() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]) }
        let output = ConsoleOutput(taking: fds[1], limitBytes: nil)
        let uart = Serial16550(output: output, interrupt: nil)
        let total = 1 << 20
        for _ in 0..<total { _ = uart.write(offset: 0, size: 1, value: 0x78) }
        // The writer moves the buffer into the pipe (64 KiB); the next buffer-full finds the pipe
        // full and the writer times out: the sink is stuck, the guest was never held up.
        output.drain(timeoutMilliseconds: 10)
        for _ in 0..<ConsoleOutput.bufferCapacity { _ = uart.write(offset: 0, size: 1, value: 0x79) }
        #expect(!output.drain(timeoutMilliseconds: 10))
        let statistics = output.statistics
        #expect(statistics.guestBytes == UInt64(total + ConsoleOutput.bufferCapacity))
        #expect(statistics.droppedBytes >= UInt64(total - 2 * ConsoleOutput.bufferCapacity))
        #expect(statistics.writtenBytes + statistics.droppedBytes <= UInt64(total))
    }

    /// Bytes are written in chunks, not one write(2) per guest byte.
    @Test func bytesAreWrittenInChunks() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]) }
        let output = ConsoleOutput(taking: fds[1], limitBytes: nil)
        for byte in "hello, world\n".utf8 { output.write([byte]) }
        #expect(output.drain(timeoutMilliseconds: 1000))
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
        #expect(String(decoding: buffer.prefix(max(0, count)), as: UTF8.self) == "hello, world\n")
    }

    /// A console file stops at its size cap with one notice line; the rest is dropped.
    @Test func aConsoleFileStopsAtItsCap() throws {
        let path = "/var/tmp/swiftvmm-console-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
        defer { unlink(path) }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        #expect(fd >= 0)
        let output = ConsoleOutput(taking: fd, limitBytes: 1000)
        for _ in 0..<100 {
            output.write([UInt8](repeating: 0x61, count: 100))
            output.drain(timeoutMilliseconds: 1000)
        }
        var status = stat()
        #expect(stat(path, &status) == 0)
        #expect(status.st_size > 1000 && status.st_size < 1200, "1000 bytes and the notice: \(status.st_size)")
        #expect(output.statistics.writtenBytes == 1000)
        #expect(output.statistics.droppedBytes == 9000)
    }
}
