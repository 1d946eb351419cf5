import Foundation
import Logging
import Testing
import VMM

// The code samples of the DocC catalog (Sources/VMM/VMM.docc), compiled here: each block between
// the markers must be the catalog's block, line for line (indentation aside; the test below
// checks). VMM.md's overview boots /boot/vmlinuz, so it is compiled, not run.
func catalogOverview() async throws -> MachineExit {
    // CATALOG-SAMPLE-BEGIN VMM.md
    var configuration = VirtualMachineConfiguration(memoryMiB: 256, console: .stream)
    configuration.kernelPath = "/boot/vmlinuz"
    configuration.commandLine = "console=ttyS0"
    let machine = try Machine(configuration: configuration)
    let console = machine.console!
    Task { for await line in console.lines() { print("guest:", line) } }
    try machine.start()
    let exit = try await machine.requestStop(grace: .seconds(30))
    // CATALOG-SAMPLE-END
    return exit
}

func catalogGettingStarted() async throws -> MachineExit? {
    // CATALOG-SAMPLE-BEGIN GettingStarted.md
    let host = KVMHost.check()
    guard host.isUsable else {
        print(host)  // e.g. "/dev/kvm: cannot open ...; load the kvm module ..."
        return nil
    }
    // CATALOG-SAMPLE-END
    // CATALOG-SAMPLE-BEGIN GettingStarted.md
    let configuration = VirtualMachineConfiguration(
        name: "demo", vcpuCount: 2, commandLine: "fw.wait=button", console: .stream)
    let machine = try Machine(configuration: configuration, logger: Logger(label: "demo"))
    // CATALOG-SAMPLE-END
    // CATALOG-SAMPLE-BEGIN GettingStarted.md
    let console = machine.console!
    let lines = console.lines()
    try machine.start()
    for await line in lines {
        print("guest:", line)
        if line == "fw: ready" { break }
    }
    try await console.write("typed into the guest\n")
    // CATALOG-SAMPLE-END
    // CATALOG-SAMPLE-BEGIN GettingStarted.md
    try machine.pause()  // vCPUs parked, device queues quiet; state is .paused
    try machine.resume()
    let exit = try await machine.requestStop(grace: .seconds(30))
    print(exit, exit.exitStatus)  // "guest powered off", 0
    // CATALOG-SAMPLE-END
    return exit
}

@Suite struct CatalogSampleTests {
    @Test(.enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
    func theGettingStartedSamplesRun() async throws {
        #expect(try await catalogGettingStarted() == .poweredOff)
    }

    /// Every Swift block of the catalog is one of the samples above, and every sample above is in
    /// its page (the `guard` block says `return` there, `return nil` here).
    @Test func theCatalogShowsTheseSamples() throws {
        let here = URL(fileURLWithPath: #filePath)
        let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let source = try String(contentsOf: here, encoding: .utf8)
        var samples: [(page: String, lines: [String])] = []
        var current: (page: String, lines: [String])?
        for line in source.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("// CATALOG-SAMPLE-BEGIN ") {
                current = (String(trimmed.dropFirst("// CATALOG-SAMPLE-BEGIN ".count)), [])
            } else if trimmed == "// CATALOG-SAMPLE-END", let sample = current {
                samples.append(sample)
                current = nil
            } else if current != nil {
                current?.lines.append(trimmed == "return nil" ? "return" : trimmed)
            }
        }
        #expect(samples.count == 5)
        var blocks: [(page: String, lines: [String])] = []
        for page in ["VMM.md", "GettingStarted.md"] {
            let text = try String(
                contentsOf: root.appendingPathComponent("Sources/VMM/VMM.docc/\(page)"), encoding: .utf8)
            for block in text.components(separatedBy: "```swift\n").dropFirst() {
                let code = block.components(separatedBy: "```")[0]
                let lines = code.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                blocks.append((page, lines.filter { $0 != "import VMM" && !$0.isEmpty }))
            }
        }
        #expect(blocks.count == samples.count, "the catalog has \(blocks.count) Swift blocks")
        for (block, sample) in zip(blocks, samples) {
            #expect(block.page == sample.page)
            #expect(block.lines == sample.lines.filter { !$0.isEmpty }, "\(block.page) differs from the sample")
        }
    }
}
