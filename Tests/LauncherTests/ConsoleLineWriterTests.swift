import Launcher
import Synchronization
import Testing

@Suite struct ConsoleLineWriterTests {
    final class Sink: Sendable {
        let pieces = Mutex<[String]>([])
        func take(_ bytes: [UInt8]) { pieces.withLock { $0.append(String(decoding: bytes, as: UTF8.self)) } }
        var all: [String] { pieces.withLock { $0 } }
    }

    @Test func wholeLinesGoOutAtOncePartialOnesAfterTheIdlePeriod() {
        let sink = Sink()
        let writer = ConsoleLineWriter(idleMilliseconds: 100) { sink.take($0) }
        writer.feed(Array("fw: one\nfw: tw".utf8), now: 0)
        #expect(sink.all == ["fw: one\n"])
        writer.feed(Array("o\nlogin: ".utf8), now: 10_000_000)
        #expect(sink.all == ["fw: one\n", "fw: two\n"])
        writer.flushIfIdle(now: 50_000_000)
        #expect(sink.all.count == 2, "not idle long enough yet")
        writer.flushIfIdle(now: 110_000_000)
        #expect(sink.all.last == "login: ", "a prompt appears after the idle period")
        writer.feed(Array("root\nend".utf8), now: 200_000_000)
        writer.finish()
        #expect(sink.all.suffix(2) == ["root\n", "end"])
    }

    @Test func aLineWithoutEndIsWrittenInBoundedPieces() {
        let sink = Sink()
        let writer = ConsoleLineWriter(idleMilliseconds: 100) { sink.take($0) }
        writer.feed([UInt8](repeating: UInt8(ascii: "x"), count: ConsoleLineWriter.maximumLineBytes * 2 + 5), now: 0)
        #expect(sink.all.map(\.count) == [ConsoleLineWriter.maximumLineBytes, ConsoleLineWriter.maximumLineBytes])
        writer.finish()
        #expect(sink.all.last?.count == 5)
    }
}
