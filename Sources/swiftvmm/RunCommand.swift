import ArgumentParser
import Launcher
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
            Boot sources: --kernel (a Linux bzImage, boot protocol 2.12+, or an ELF vmlinux or other \
            image with a PVH entry note), --firmware (a PVH ELF), raw_code in a --config file, or \
            nothing: then the built-in test firmware boots.
            SIGTERM or SIGINT presses the guest's power button; if the guest has not ended \
            --grace-seconds later, the run is forced to stop (status 7). A second signal forces \
            the stop at once. A guest reboot ends the run with status 3, or with --reboot-in-place \
            boots the guest again in the same process (fresh memory and devices, same \
            configuration). Flags override the values of the --config file.
            """
    )

    @Option(name: .long, help: ArgumentHelp("Kernel to boot: a bzImage or a PVH ELF (vmlinux).", valueName: "path"))
    var kernel: String?

    @Option(name: .long, help: ArgumentHelp("PVH firmware to boot instead of a kernel.", valueName: "path"))
    var firmware: String?

    @Option(name: .long, help: ArgumentHelp("Initial ramdisk.", valueName: "path"))
    var initrd: String?

    @Option(name: .long, help: ArgumentHelp("Kernel command line.", valueName: "text"))
    var cmdline: String?

    @Option(name: .long, help: ArgumentHelp("Number of vCPUs (default 1).", valueName: "n"))
    var cpus: Int?

    @Option(name: .long, help: ArgumentHelp("Guest memory in MiB (default 128).", valueName: "MiB"))
    var memory: Int?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "What backs guest memory: anonymous (default), memfd or hugetlbfs (2 MiB huge pages from the host's pool).",
            valueName: "kind"))
    var memoryBacking: String?

    @Flag(name: .long, help: "Fault all guest memory in before the guest starts (it is resident from the start).")
    var memoryPrefault = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Console: stdio (stdout, and stdin when it is a terminal, pipe or socket), none, fd=READ,WRITE or"
                + " file=PATH[,limit_mib=N] (default stdio).", valueName: "target"))
    var console: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A virtio-blk disk (repeatable): path=PATH[,readonly=on][,serial=S][,cache=none][,size_mib=N]"
                + "[,create_size_mib=N][,queues=N][,aio=auto|io_uring|threads|sync].",
            valueName: "options"))
    var disk: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A virtio-net interface on a host tap (repeatable): tap=NAME[,mac=MAC][,mtu=N].", valueName: "options"))
    var net: [String] = []

    @Flag(name: .long, help: "Add a virtio-rng (entropy) device fed from the host's random generator.")
    var rng = false

    @Option(
        name: .long,
        help: ArgumentHelp("JSON configuration (snake_case keys; unknown keys are rejected).", valueName: "file"))
    var config: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A Firecracker configuration file (boot-source, drives, machine-config, ...): the same as"
                + " `swiftvmm serve --no-api --config-file FILE`.", valueName: "file"))
    var firecrackerConfig: String?

    @OptionGroup var grace: GraceOption

    @Flag(
        name: .long,
        help: "When the guest reboots, boot it again in this process instead of exiting with status 3.")
    var rebootInPlace = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "seccomp filters: enforce (default: a forbidden system call stops the VMM with status 16), log (the"
                + " kernel logs forbidden calls), or off (no filters).", valueName: "mode"))
    var seccomp: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Log level of the VMM's own messages on stderr: trace, debug, info, notice, warning, error or critical"
                + " (default notice: state changes are info).", valueName: "level"))
    var logLevel: String = "notice"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Serve /healthz, /readyz and /metrics over HTTP on this address (off by default).",
            valueName: "host:port"))
    var http: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Readiness: the guest is ready once a console line matches this regular expression (default: the boot"
                + " timer). The console then goes to stdout through the VMM (stdin is not typed into the guest).",
            valueName: "regex"))
    var readyConsole: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Readiness: the guest is ready while this TCP address accepts connections (checked every second).",
            valueName: "host:port"))
    var readyTCP: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Serve the same endpoint on this unix socket, for `swiftvmm probe` (off by default).", valueName: "path"))
    var probeSocket: String?

    func validate() throws {
        if firecrackerConfig != nil {
            let machineFlags: [(String, Bool)] = [
                ("--config", config != nil), ("--kernel", kernel != nil), ("--firmware", firmware != nil),
                ("--initrd", initrd != nil), ("--cmdline", cmdline != nil), ("--cpus", cpus != nil),
                ("--memory", memory != nil), ("--memory-backing", memoryBacking != nil),
                ("--memory-prefault", memoryPrefault), ("--disk", !disk.isEmpty), ("--net", !net.isEmpty),
                ("--rng", rng),
                ("--console", console != nil), ("--http", http != nil), ("--probe-socket", probeSocket != nil),
                ("--ready-console", readyConsole != nil), ("--ready-tcp", readyTCP != nil),
                ("--reboot-in-place", rebootInPlace),
            ]
            if let (flag, _) = machineFlags.first(where: { $0.1 }) {
                throw ValidationError(
                    "--firecracker-config: \(flag) cannot be given with it; the file describes the machine")
            }
        }
        guard readyConsole == nil || readyTCP == nil else {
            throw ValidationError("--ready-console and --ready-tcp: give one readiness rule, not both")
        }
        _ = try parseLogLevel(logLevel)
    }

    func run() throws {
        if let firecrackerConfig {
            let serve = try ServeCommand.parse(
                ["--no-api", "--config-file", firecrackerConfig, "--grace-seconds", "\(grace.graceSeconds)"]
                    + (seccomp.map { ["--seccomp", $0] } ?? []))
            try serve.run()
            return
        }
        let pipeline = RunPipeline(
            RunPipeline.Options(
                configuration: resolvedConfiguration, logLevel: try parseLogLevel(logLevel),
                graceSeconds: grace.graceSeconds, rebootInPlace: rebootInPlace, http: http, probeSocket: probeSocket,
                readyConsole: readyConsole, readyTCP: readyTCP))
        Glibc.exit(try pipeline.run())
    }

    /// The configuration file (if any) with the flags applied on top.
    func resolvedConfiguration() throws(MachineError) -> VirtualMachineConfiguration {
        var configuration = VirtualMachineConfiguration()
        if let config {
            configuration = try VirtualMachineConfiguration(contentsOfJSONFile: config)
        }
        if let kernel { configuration.kernelPath = kernel }
        if let firmware { configuration.firmwarePath = firmware }
        if let initrd { configuration.initrdPath = initrd }
        if let cmdline { configuration.commandLine = cmdline }
        if let cpus { configuration.vcpuCount = cpus }
        if let memory { configuration.memoryMiB = memory }
        if let memoryBacking {
            configuration.memoryBacking = try MemoryBacking(argument: memoryBacking, field: "--memory-backing")
        }
        if memoryPrefault { configuration.memoryPrefault = true }
        if rng { configuration.entropyDevice = true }
        if !net.isEmpty {
            configuration.networkInterfaces = try net.map { argument throws(MachineError) in
                try NetworkInterfaceConfiguration(argument: argument, field: "--net")
            }
        }
        if !disk.isEmpty {
            configuration.disks = try disk.map { argument throws(MachineError) in
                try DiskConfiguration(argument: argument, field: "--disk")
            }
        }
        if let console { configuration.console = try ConsoleConfiguration(argument: console) }
        if let seccomp {
            guard let mode = SeccompMode(rawValue: seccomp) else {
                throw .invalidValue(field: "--seccomp", value: seccomp, expected: "enforce, log or off")
            }
            configuration.seccomp = mode
        }
        return configuration
    }
}
