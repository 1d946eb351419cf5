import ArgumentParser
import VMM

#if canImport(Glibc)
    import Glibc
#endif

/// `swiftvmm run`: boot one virtual machine in the foreground and exit with its status.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Boot a virtual machine in the foreground; the exit status tells how it ended.",
        discussion: """
            Boot formats: this build boots raw_code guests given in a --config file; kernel \
            files (PVH ELF, bzImage) are recognised and refused until their loaders land.
            Flags override the values of the --config file.
            """
    )

    @Option(name: .long, help: ArgumentHelp("Kernel image to boot.", valueName: "path"))
    var kernel: String?

    @Option(name: .long, help: ArgumentHelp("Initial ramdisk.", valueName: "path"))
    var initrd: String?

    @Option(name: .long, help: ArgumentHelp("Kernel command line.", valueName: "text"))
    var cmdline: String?

    @Option(name: .long, help: ArgumentHelp("Number of vCPUs (default 1).", valueName: "n"))
    var cpus: Int?

    @Option(name: .long, help: ArgumentHelp("Guest memory in MiB (default 128).", valueName: "MiB"))
    var memory: Int?

    @Option(name: .long, help: ArgumentHelp("Console: stdio, none or file=PATH (default stdio).", valueName: "target"))
    var console: String?

    @Option(
        name: .long,
        help: ArgumentHelp("JSON configuration (snake_case keys; unknown keys are rejected).", valueName: "file"))
    var config: String?

    func run() throws {
        let configuration: VirtualMachineConfiguration
        do {
            configuration = try resolvedConfiguration()
        } catch {
            throw CommandFailure(error)
        }
        let machine: Machine
        do {
            machine = try Machine(configuration: configuration)
        } catch {
            throw CommandFailure(error)
        }
        let exit: MachineExit
        do {
            exit = try machine.run()
        } catch {
            throw CommandFailure(error)
        }
        if exit != .poweredOff {
            writeStandardError("swiftvmm: \(exit)\n")
        }
        Glibc.exit(exit.exitStatus)
    }

    /// The configuration file (if any) with the flags applied on top.
    func resolvedConfiguration() throws(ConfigurationError) -> VirtualMachineConfiguration {
        var configuration = VirtualMachineConfiguration()
        if let config {
            configuration = try VirtualMachineConfiguration(contentsOfJSONFile: config)
        }
        if let kernel { configuration.kernelPath = kernel }
        if let initrd { configuration.initrdPath = initrd }
        if let cmdline { configuration.commandLine = cmdline }
        if let cpus { configuration.vcpuCount = cpus }
        if let memory { configuration.memoryMiB = memory }
        if let console { configuration.console = try ConsoleConfiguration(argument: console) }
        return configuration
    }
}
