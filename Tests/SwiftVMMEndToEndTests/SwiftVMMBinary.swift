import Foundation
import Testing

/// Runs the built `swiftvmm` executable, which sits next to the test bundle in the build folder.
enum SwiftVMMBinary {
    static var url: URL {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = executable.deletingLastPathComponent()
        // swift test runs <build>/debug/SwiftVMMPackageTests.xctest; the binary is <build>/debug/swiftvmm.
        if directory.lastPathComponent.hasSuffix(".xctest") { directory = directory.deletingLastPathComponent() }
        return directory.appendingPathComponent("swiftvmm")
    }

    struct Result {
        var status: Int32
        var standardOutput: String
        var standardError: String
        var errorLines: [Substring] { standardError.split(separator: "\n") }
    }

    static func run(_ arguments: [String], timeoutSeconds: Double = 60) throws -> Result {
        let process = try RunningProcess(executable: url, arguments: arguments)
        let (status, timedOut) = process.waitForExit(timeoutSeconds: timeoutSeconds)
        if timedOut { Issue.record("swiftvmm \(arguments) did not finish within \(timeoutSeconds) s") }
        return Result(
            status: status, standardOutput: process.standardOutput.text, standardError: process.standardError.text)
    }

    /// The repository's root folder (for firmware/ scripts).
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// A scratch file with `contents`, removed when the process ends... or by the caller.
    static func temporaryFile(_ name: String, contents: Data) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftvmm-tests-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent(name)
        try contents.write(to: file)
        return file
    }
}
