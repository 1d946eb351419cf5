import Testing

@testable import Devices

#if canImport(Glibc)
    import Glibc
#endif

/// A console file is opened O_NONBLOCK (a named pipe must not hold the build): a sink that
/// takes only part of the bytes (EAGAIN) is a short write, the rest kept for later, never a
/// failure that closes the console for good.
@Suite struct ConsoleOutputNonBlockingTests {
    @Test func aFullNonBlockingSinkIsAShortWriteNotAFailure() throws {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        defer {
            close(fds[0])
            close(fds[1])
        }
        #expect(fcntl(fds[1], F_SETFL, O_NONBLOCK) == 0)
        let bytes = [UInt8](repeating: 0x61, count: 1 << 20)
        let taken = ConsoleOutput.writeAvailable(fds[1], bytes)
        #expect(
            taken.map { $0 > 0 && $0 < bytes.count } == true,
            "the pipe's capacity, then EAGAIN: \(String(describing: taken))")
        #expect(ConsoleOutput.writeAvailable(fds[1], [0x62]) == 0, "a full pipe takes nothing: 0, not a failure")
    }

    /// Through the writer: a sink that is full waits (drain says so), loses nothing, and takes
    /// the rest once its reader caught up.
    @Test func aFullSinkWaitsAndLosesNothing() throws {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]) }
        #expect(fcntl(fds[1], F_SETFL, O_NONBLOCK) == 0)
        #expect(fcntl(fds[0], F_SETFL, O_NONBLOCK) == 0)
        let output = ConsoleOutput(taking: fds[1], limitBytes: nil)
        let sent = (0..<ConsoleOutput.bufferCapacity).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        // Fill the pipe first, so the console's bytes find it full.
        let filler = ConsoleOutput.writeAvailable(fds[1], buffer) ?? 0
        output.write(sent)
        #expect(!output.drain(timeoutMilliseconds: 10), "the sink is full: the writer waits")
        for _ in 0..<1_000 where received.count < filler + sent.count {
            let count = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            if count > 0 { received += buffer.prefix(count) }
            _ = output.drain(timeoutMilliseconds: 5)
        }
        #expect(Array(received.dropFirst(filler)) == sent)
        #expect(output.statistics.droppedBytes == 0 && output.statistics.writtenBytes == UInt64(sent.count))
    }
}
