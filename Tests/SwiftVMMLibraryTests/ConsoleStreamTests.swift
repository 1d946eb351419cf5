import Foundation
import Testing
import VMM

/// `.stream` consoles: output as bytes and lines, input written into the guest's UART.
@Suite(.serialized, .enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
struct ConsoleStreamTests {
    @Test func outputArrivesAsLinesAndBytes() async throws {
        let machine = try Machine(configuration: firmware("fw.exit=0"))
        let console = try #require(machine.console)
        let lines = ConsoleCollector(console)
        let bytes = console.bytes()
        try machine.start()
        var text: [UInt8] = []
        for await byte in bytes { text.append(byte) }  // ends when the machine stops
        await lines.waitForEnd()
        #expect(try await machine.waitUntilStopped() == .guestStatus(0))
        let fromBytes = String(decoding: text, as: UTF8.self)
        #expect(fromBytes.hasPrefix("fw: SwiftVMM test firmware"))
        #expect(lines.lines.contains("fw: ready"))
        #expect(fromBytes == lines.lines.map { $0 + "\n" }.joined(), "both views see the same output")
        #expect(machine.statistics.console.droppedBytes == 0)
        #expect(machine.statistics.console.writtenBytes == UInt64(text.count))
    }

    @Test func inputReachesTheGuestAndIsEchoed() async throws {
        let machine = try Machine(configuration: firmware("fw.wait=echo"))
        let console = try #require(machine.console)
        let lines = ConsoleCollector(console)
        try machine.start()
        #expect(await lines.waitFor { $0 == "fw: echoing console input" })
        try await console.write("hello, guest\n")
        #expect(await lines.waitFor { $0 == "fw: echo hello, guest" })
        // More than the UART's 4 KiB receive buffer in one write: the pump waits for the guest.
        let long = (0..<100).map { "line \($0) " + String(repeating: "x", count: 60) + "\n" }.joined()
        try await console.write(long)
        #expect(await lines.waitFor { $0.hasPrefix("fw: echo line 99 ") }, "all 6.8 KiB arrive in order")
        #expect(lines.count { $0.hasPrefix("fw: echo line ") } == 100)
        #expect(try await machine.requestStop(grace: .seconds(30)) == .poweredOff)
        await #expect(throws: MachineError.self, "a stopped machine takes no input") { try await console.write("x") }
    }

    @Test func aSubscriberThatDoesNotReadCostsBoundedMemoryAndCountsDrops() async throws {
        let machine = try Machine(configuration: firmware("fw.wait=ticks"))
        let console = try #require(machine.console)
        let ignored = console.output()  // never read
        let lines = ConsoleCollector(console)
        try machine.start()
        #expect(await lines.waitFor { $0 == "fw: tick 2" })
        #expect(try await machine.requestStop(grace: .seconds(30)) == .poweredOff)
        _ = ignored
        #expect(console.droppedBytes == 0, "a few KiB fit in the subscriber's buffer")
    }

    /// `.fileDescriptor`: output to a pipe the embedder reads, input from a pipe it writes.
    @Test func fileDescriptorsCarryTheConsole() async throws {
        var output: [Int32] = [-1, -1]
        var input: [Int32] = [-1, -1]
        #expect(pipe(&output) == 0 && pipe(&input) == 0)
        defer { for fd in output + input { close(fd) } }
        var configuration = firmware("fw.wait=echo")
        configuration.console = .fileDescriptor(read: input[0], write: output[1])
        let machine = try Machine(configuration: configuration)
        try machine.start()
        var received: [UInt8] = []
        /// Reads the output pipe until it holds `text` (or 30 s pass).
        func readUntil(_ text: String) -> Bool {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let deadline = ContinuousClock.now + .seconds(30)
            while !String(decoding: received, as: UTF8.self).contains(text), ContinuousClock.now < deadline {
                var poll = pollfd(fd: output[0], events: Int16(POLLIN), revents: 0)
                guard Glibc.poll(&poll, 1, 100) == 1 else { continue }
                let count = read(output[0], &buffer, buffer.count)
                if count > 0 { received += buffer[0..<count] }
            }
            return String(decoding: received, as: UTF8.self).contains(text)
        }
        // Input typed before the guest set its UART up is cleared by it (FCR), as on hardware.
        #expect(readUntil("fw: echoing console input"))
        _ = "ping\n".withCString { write(input[1], $0, 5) }
        #expect(readUntil("fw: echo ping"))
        #expect(try await machine.requestStop(grace: .seconds(30)) == .poweredOff)
        #expect(fcntl(input[0], F_GETFD) >= 0 && fcntl(output[1], F_GETFD) >= 0, "the descriptors stay the caller's")
    }
}
