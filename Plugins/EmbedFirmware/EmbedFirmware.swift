import Foundation
import PackagePlugin

/// Builds the test firmware (firmware/build.sh: gcc + ld) and embeds the ELF in the target as
/// a Swift file holding it base64-encoded, so `swiftvmm` stays a single file. Reruns when any
/// file under firmware/ changes.
@main
struct EmbedFirmware: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let firmware = context.package.directoryURL.appending(path: "firmware")
        let script = firmware.appending(path: "embed.sh")
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedFirmwareImage.swift")
        let inputs = try FileManager.default.subpathsOfDirectory(atPath: firmware.path())
            .filter { !$0.hasPrefix("linux/") && !$0.hasSuffix(".md") }
            .map { firmware.appending(path: $0) }
            .filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true }
        return [
            .buildCommand(
                displayName: "Building and embedding the test firmware",
                executable: URL(fileURLWithPath: "/bin/bash"),
                arguments: [script.path(), output.path(), context.pluginWorkDirectoryURL.path()],
                inputFiles: inputs,
                outputFiles: [output])
        ]
    }
}
