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
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = error.fileHandleForReading.readDataToEndOfFile()
        while process.isRunning {
            if Date() > deadline {
                process.terminate()
                Issue.record("swiftvmm \(arguments) did not finish within \(timeoutSeconds) s")
                break
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, standardOutput: String(decoding: outputData, as: UTF8.self),
            standardError: String(decoding: errorData, as: UTF8.self))
    }

    /// A scratch file with `contents`, removed when the process ends... or by the caller.
    static func temporaryFile(_ name: String, contents: Data) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftvmm-tests-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent(name)
        try contents.write(to: file)
        return file
    }
}
