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
        // The build's inputs: the sources and the two scripts (not tools/, docs or the Linux guest).
        let sources = try FileManager.default.contentsOfDirectory(atPath: firmware.appending(path: "src").path())
            .sorted().map { firmware.appending(path: "src").appending(path: $0) }
        let inputs = sources + [firmware.appending(path: "build.sh"), script]
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
