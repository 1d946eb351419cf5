import Foundation
import Testing

@testable import ACPI

/// Where iasl (acpica-tools) is, or nil.
let iaslPath: String? = ["/usr/bin/iasl", "/usr/local/bin/iasl", "/bin/iasl"].first {
    FileManager.default.isExecutableFile(atPath: $0)
}

/// iasl is not installed: the tests that run it fail (they are not skipped).
struct IASLMissing: Error, CustomStringConvertible {
    var description: String { "iasl not found: install Debian package acpica-tools (scripts/test.sh installs it)" }
}

/// What `iasl -d` made of one table.
struct Disassembly {
    var status: Int32
    var output: String
    var dsl: String

    /// Lines of the console output or the .dsl that mention an error or a warning.
    var complaints: [String] {
        (output + "\n" + dsl).split(separator: "\n").map(String.init).filter {
            let line = $0.lowercased()
            return line.contains("error") || line.contains("warning") || line.contains("incorrect")
        }
    }
}

/// Writes `table` to a temporary file and disassembles it with `iasl -d`.
func disassemble(_ table: [UInt8], name: String) throws -> Disassembly {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("acpi-iasl-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    try Data(table).write(to: directory.appendingPathComponent("\(name).dat"))
    let (status, output) = try runIASL(["-d", "\(name).dat"], in: directory)
    let dsl = (try? String(contentsOf: directory.appendingPathComponent("\(name).dsl"), encoding: .utf8)) ?? ""
    return Disassembly(status: status, output: output, dsl: dsl)
}

/// Compiles an ACPI data-table source (iasl's `[size] Field : value` format) and returns the
/// exit status, the console output and the binary iasl wrote (empty if none).
func compileDataTable(_ source: String, name: String) throws -> (status: Int32, output: String, bytes: [UInt8]) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("acpi-iasl-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    try source.write(to: directory.appendingPathComponent("\(name).asl"), atomically: true, encoding: .utf8)
    let (status, output) = try runIASL(["\(name).asl"], in: directory)
    let bytes = (try? Data(contentsOf: directory.appendingPathComponent("\(name).aml"))).map { [UInt8]($0) } ?? []
    return (status, output, bytes)
}

/// Runs iasl in `directory`, returning its exit status and its stdout and stderr together.
func runIASL(_ arguments: [String], in directory: URL) throws -> (Int32, String) {
    guard let iaslPath else { throw IASLMissing() }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: iaslPath)
    process.arguments = arguments
    process.currentDirectoryURL = directory
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, output)
}

/// Disassembles `table` and expects a clean run; returns the .dsl text.
func expectCleanDisassembly(_ table: [UInt8], name: String) throws -> String {
    let result = try disassemble(table, name: name)
    #expect(result.status == 0, "iasl -d \(name) exited \(result.status):\n\(result.output)")
    #expect(!result.dsl.isEmpty, "iasl -d \(name) wrote no .dsl:\n\(result.output)")
    #expect(result.complaints.isEmpty, "iasl -d \(name) complained:\n\(result.complaints.joined(separator: "\n"))")
    return result.dsl
}

@Suite(.serialized)
struct IASLTests {
    /// Every table but the RSDP: iasl 20200925 refuses to disassemble a lone RSDP ("Binary file
    /// does not contain a valid ACPI table": it has no standard header), so ``rsdp()`` has iasl
    /// compile one from source instead and compares the bytes.
    @Test func everyBuiltTableDisassemblesCleanly() throws {
        for placement in try sampleTables().placements where placement.signature != "RSDP" {
            _ = try expectCleanDisassembly(placement.bytes, name: placement.signature.lowercased())
        }
    }

    /// iasl compiles the RSDP from source with both checksums computed by itself (they are given
    /// as 00); the result must equal ours byte for byte.
    @Test func rsdp() throws {
        let source = """
            [0008]                          Signature : "RSD PTR "
            [0001]                           Checksum : 00
            [0006]                             Oem ID : "SVMM  "
            [0001]                           Revision : 02
            [0004]                       RSDT Address : 00000000
            [0004]                             Length : 00000024
            [0008]                       XSDT Address : 00000000000E0030
            [0001]                  Extended Checksum : 00
            [0003]                           Reserved : 000000

            """
        let compiled = try compileDataTable(source, name: "rsdp")
        #expect(compiled.status == 0, "iasl rsdp.asl exited \(compiled.status):\n\(compiled.output)")
        #expect(compiled.output.contains("0 Errors, 0 Warnings"), "iasl rsdp.asl:\n\(compiled.output)")
        #expect(compiled.bytes == RSDP(xsdtAddress: 0xE_0030).bytes())
    }

    @Test func fadt() throws {
        let dsl = try expectCleanDisassembly(FADT(dsdtAddress: 0xE_1000).bytes(), name: "facp")
        #expect(dsl.contains("Hardware Reduced (V5) : 1"))
        #expect(dsl.contains("Reset Register Supported (V2) : 1"))
        #expect(dsl.contains("0000000000000600"))
        #expect(dsl.contains("0000000000000601"))
        #expect(dsl.contains("0000000000000602"))
    }

    @Test func madt() throws {
        let dsl = try expectCleanDisassembly(try MADT(vcpuCount: 4).bytes(), name: "apic")
        #expect(dsl.contains("FEE00000"))
        #expect(dsl.contains("FEC00000"))
        #expect(dsl.components(separatedBy: "[Processor Local APIC]").count - 1 == 4)
        #expect(dsl.contains("Interrupt Source Override"))
        #expect(dsl.contains("Local APIC NMI"))
    }

    @Test func dsdt() throws {
        let dsl = try expectCleanDisassembly(try DSDT(virtioDevices: sampleVirtioDevices).bytes(), name: "dsdt")
        for text in [
            "Device (COM1)", "EisaId (\"PNP0501\")", "0x03F8", "Device (VR00)", "Device (VR01)", "\"LNRO0005\"",
            "0xD0001000", "0xD0002000", "Device (GED0)", "\"ACPI0013\"", "Device (PWRB)", "EisaId (\"PNP0C0C\")",
            "Name (_S5, Package", "OperationRegion (PBER, SystemIO, 0x0610, 0x08)", "Method (_EVT, 1, Serialized)",
            "Notify (\\_SB.PWRB, 0x80)", "Memory32Fixed (ReadWrite,",
        ] {
            #expect(dsl.contains(text), "the DSDT disassembly lacks \(text)")
        }
        for gsi in ["0x00000004", "0x00000005", "0x00000006", "0x00000017"] {
            #expect(dsl.contains(gsi), "the DSDT disassembly lacks Interrupt \(gsi)")
        }
    }
}
