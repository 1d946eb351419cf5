import Foundation
import Launcher
import Logging
import Synchronization
import Testing

@Suite struct PodLogHandlerTests {
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        func add(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    @Test func jsonLinesCarryTimestampLevelMessageAndMetadata() {
        let lines = Lines()
        var logger = Logger(label: "swiftvmm") { label in PodLogHandler(label: label, format: .json) { lines.add($0) } }
        logger[metadataKey: "pod"] = "web-0"
        logger.info("machine started", metadata: ["vm": "web-0", "note": "a \"quoted\"\nline"])
        let line = try! #require(lines.all.first)
        #expect(line.hasPrefix("{\"timestamp\":\"20"))
        #expect(line.contains(#""level":"info","message":"machine started""#))
        #expect(line.contains(#""note":"a \"quoted\"\nline""#.replacingOccurrences(of: "\n", with: "\\n")))
        #expect(line.contains(#""pod":"web-0""#) && line.contains(#""vm":"web-0""#))
        #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1, "one line")
    }

    @Test func textForATerminal() {
        let lines = Lines()
        let logger = Logger(label: "swiftvmm") { label in PodLogHandler(label: label, format: .text) { lines.add($0) } }
        logger.warning("vcpus: throttled", metadata: ["vm": "a"])
        #expect(lines.all.first?.contains("warning swiftvmm: vcpus: throttled vm=a") == true)
    }
}
