import Foundation
import Testing

/// Bad input through the real binary: one line on stderr naming the problem, and the status
/// docs/configuration.md's exit-status table documents.
@Suite(.serialized) struct BadInputTests {
    private func expectOneLineError(
        _ arguments: [String], status: Int32, mentioning words: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let result = try SwiftVMMBinary.run(arguments)
        #expect(result.status == status, "exit status; stderr: \(result.standardError)", sourceLocation: sourceLocation)
        #expect(
            result.errorLines.count == 1, "exactly one stderr line: \(result.standardError)",
            sourceLocation: sourceLocation)
        let line = result.errorLines.first.map(String.init) ?? ""
        #expect(line.hasPrefix("swiftvmm: error: "), sourceLocation: sourceLocation)
        for word in words {
            #expect(line.contains(word), "'\(word)' in: \(line)", sourceLocation: sourceLocation)
        }
    }

    private var rawGuestConfiguration: URL {
        get throws {
            try SwiftVMMBinary.temporaryFile(
                "raw.json", contents: Data(#"{"memory_mib": 2, "raw_code": {"mode": "real16", "code": [244]}}"#.utf8))
        }
    }

    @Test func missingKernel() throws {
        try expectOneLineError(
            ["run", "--kernel", "/nonexistent/vmlinux"], status: 11,
            mentioning: ["kernel", "/nonexistent/vmlinux", "No such file"])
    }

    @Test func unreadableKernel() throws {
        // Tests run as root, which reads any regular file; a directory is what root cannot read as a kernel.
        let directory = FileManager.default.temporaryDirectory.path
        try expectOneLineError(
            ["run", "--kernel", directory], status: 11, mentioning: ["kernel", directory, "directory"])
    }

    @Test func unsupportedKernelFormats() throws {
        let junk = try SwiftVMMBinary.temporaryFile("junk.bin", contents: Data(repeating: 0x5a, count: 4096))
        try expectOneLineError(
            ["run", "--kernel", junk.path], status: 12,
            mentioning: ["kernel", junk.path, "not a bootable image", "PVH"])
        try expectOneLineError(
            ["run", "--firmware", "/bin/true"], status: 12, mentioning: ["firmware", "not an executable"])
        var bzImage = Data(repeating: 0, count: 0x1000)
        bzImage.replaceSubrange(0x1fe..<0x200, with: [0x55, 0xaa])
        bzImage.replaceSubrange(0x202..<0x206, with: Array("HdrS".utf8))
        bzImage.replaceSubrange(0x206..<0x208, with: [0x0a, 0x02])  // boot protocol 2.10
        let fakeBzImage = try SwiftVMMBinary.temporaryFile("bzImage", contents: bzImage)
        try expectOneLineError(
            ["run", "--kernel", fakeBzImage.path], status: 12, mentioning: ["2.10", "2.12", "vmlinux"])
    }

    @Test func zeroMemory() throws {
        try expectOneLineError(
            ["run", "--config", rawGuestConfiguration.path, "--memory", "0"], status: 10,
            mentioning: ["memory_mib", "'0'"])
    }

    @Test func memoryAboveTheHostsMemTotal() throws {
        try expectOneLineError(
            ["run", "--config", rawGuestConfiguration.path, "--memory", "100000000"], status: 13,
            mentioning: ["memory_mib", "MemTotal"])
    }

    @Test func zeroCPUs() throws {
        try expectOneLineError(
            ["run", "--kernel", "/nonexistent", "--cpus", "0"], status: 10, mentioning: ["vcpus", "'0'"])
    }

    @Test(
        .enabled(
            if: FileManager.default.isWritableFile(atPath: "/dev/kvm"),
            "SKIPPED: needs /dev/kvm to read KVM_CAP_MAX_VCPUS"))
    func cpusAboveKVMsMaximum() throws {
        let configuration = try SwiftVMMBinary.temporaryFile(
            "smp.json",
            contents: Data(#"{"memory_mib": 2, "irqchip": true, "raw_code": {"mode": "real16", "code": [244]}}"#.utf8))
        try expectOneLineError(
            ["run", "--config", configuration.path, "--cpus", "100000"], status: 13,
            mentioning: ["vcpus", "100000", "KVM_CAP_MAX_VCPUS"])
    }

    @Test func malformedConfigurationFiles() throws {
        let syntax = try SwiftVMMBinary.temporaryFile("syntax.json", contents: Data(#"{"vcpus": 1,"#.utf8))
        try expectOneLineError(["run", "--config", syntax.path], status: 10, mentioning: ["config", syntax.path])
        let unknown = try SwiftVMMBinary.temporaryFile(
            "unknown.json", contents: Data(#"{"kernel": "/k", "cpus": 2}"#.utf8))
        try expectOneLineError(["run", "--config", unknown.path], status: 10, mentioning: ["unknown key 'cpus'"])
        let wrongType = try SwiftVMMBinary.temporaryFile("type.json", contents: Data(#"{"memory_mib": "lots"}"#.utf8))
        try expectOneLineError(
            ["run", "--config", wrongType.path], status: 10, mentioning: ["memory_mib", "expected Int"])
        try expectOneLineError(
            ["run", "--config", "/nonexistent/vm.json"], status: 11, mentioning: ["config", "/nonexistent/vm.json"])
    }

    /// `launch` validates the machine before its fit check does arithmetic on `memory_mib`: a
    /// negative or huge value is one line and status 10, not a crash (SIGILL, status 132).
    @Test(arguments: ["-1", "-9223372036854775808", "9223372036854775807", "17592186044417"])
    func launchRefusesMemoryMiBOutsideItsRange(value: String) throws {
        let configuration = try SwiftVMMBinary.temporaryFile(
            "launch-memory.json",
            contents: Data(#"{"memory_mib": \#(value), "pod": {"http_listen": "", "probe_socket": ""}}"#.utf8))
        try expectOneLineError(
            ["launch", "--config", configuration.path], status: 10, mentioning: ["memory_mib", "'\(value)'"])
    }

    @Test func badFlagValues() throws {
        try expectOneLineError(
            ["run", "--kernel", "/k", "--console", "serial"], status: 10, mentioning: ["console", "serial"])
        try expectOneLineError(["run", "--cpus", "many"], status: 10, mentioning: ["cpus"])
        try expectOneLineError(["run", "--no-such-flag"], status: 10, mentioning: ["--no-such-flag"])
    }

    @Test func helpExitsZero() throws {
        let result = try SwiftVMMBinary.run(["run", "--help"])
        #expect(result.status == 0)
        #expect(result.standardOutput.contains("--kernel"))
        #expect(result.standardOutput.contains("Boot sources"))
        #expect(result.standardOutput.contains("--grace-seconds"))
    }
}

/// Guests run through the real binary end with the documented statuses.
@Suite(
    .tags(.kvm),
    .serialized,
    .enabled(if: kvmUsable, kvmSkipReason)
)
struct BinaryRunTests {
    private func run(code: [UInt8], mode: String) throws -> SwiftVMMBinary.Result {
        let json = #"{"memory_mib": 2, "irqchip": false, "raw_code": {"mode": "\#(mode)", "code": \#(code)}}"#
        let configuration = try SwiftVMMBinary.temporaryFile(
            "guest-\(mode)-\(code.count).json", contents: Data(json.utf8))
        return try SwiftVMMBinary.run(["run", "--config", configuration.path])
    }

    @Test func guestStatusMapsIntoTheGuestRange() throws {
        let result = try run(code: [0xb0, 0x05, 0xe6, 0xf4], mode: "real16")  // mov al, 5; out 0xf4, al
        #expect(result.status == 69)
        #expect(result.standardError.contains("guest reported status 5"))
    }

    @Test func tripleFaultHasItsStatusAndARegisterDump() throws {
        let result = try run(code: [0xf4], mode: "long64_user")  // HLT at CPL 3 → #GP → triple fault
        #expect(result.status == 4)
        #expect(result.standardError.contains("triple fault"))
        #expect(result.standardError.contains("rip=0x0000000000008000"))
    }

    @Test func haltWithoutIRQChipHasItsStatus() throws {
        #expect(try run(code: [0xf4], mode: "real16").status == 5)
    }
}
