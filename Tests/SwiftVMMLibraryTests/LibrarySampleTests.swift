import Foundation
import Logging
import Testing
import VMM

// The sample of docs/library.md, compiled here. The lines between the markers must be the
// page's code block, word for word (the test below checks).
// LIBRARY-SAMPLE-BEGIN
func embed() async throws -> MachineExit {
    let host = KVMHost.check()  // says what is missing, one line per problem
    guard host.isUsable else { throw MachineError.hostUnsupported(host.description) }
    let configuration = VirtualMachineConfiguration(
        name: "demo", vcpuCount: 2, commandLine: "fw.wait=button", console: .stream)
    let machine = try Machine(configuration: configuration, logger: Logger(label: "demo"))
    let lines = machine.console!.lines()  // subscribe before start() to see every line
    try machine.start()
    for await line in lines where line == "fw: ready" { break }
    try machine.pause()  // vCPUs parked, device queues quiet
    try machine.resume()
    try await machine.console!.write("typed into the guest's UART\n")
    return try await machine.requestStop(grace: .seconds(30))  // power button, then force
}
// LIBRARY-SAMPLE-END

@Suite struct LibrarySampleTests {
    @Test(.enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
    func theSampleRuns() async throws {
        #expect(try await embed() == .poweredOff)
    }

    @Test func theLibraryPageShowsThisSample() throws {
        let here = URL(fileURLWithPath: #filePath)
        let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let page = try String(contentsOf: root.appendingPathComponent("docs/library.md"), encoding: .utf8)
        let source = try String(contentsOf: here, encoding: .utf8)
        let begin = try #require(source.range(of: "// LIBRARY-SAMPLE-BEGIN\n"))
        let end = try #require(source.range(of: "// LIBRARY-SAMPLE-END"))
        let sample = String(source[begin.upperBound..<end.lowerBound])
        let block = "```swift\nimport Logging\nimport VMM\n\n" + sample + "```\n"
        #expect(page.contains(block), "docs/library.md and the sample differ")
    }
}
