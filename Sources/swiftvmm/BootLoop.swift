import Logging
import Synchronization
import VMM

#if canImport(Glibc)
    import Glibc
#endif

/// The run both `run` and `launch` make: boot a fresh machine, run it to its end, and on a guest
/// reset boot again in place (when asked) — with the process sandbox installed once, after the
/// first machine is built and before its threads start, and the stop signals following
/// whichever machine is current.
struct BootLoop {
    let configuration: VirtualMachineConfiguration
    let rebootInPlace: Bool
    let signals: ShutdownSignals
    let logger: Logger
    let events: @Sendable (MachineEvent) -> Void
    /// Called with each machine after it is built and before it starts (console streaming).
    var prepare: (Machine) -> Void = { _ in }
    /// Called with each machine once it started (`serve` answers InstanceStart then).
    var started: (Machine) -> Void = { _ in }
    /// Called after each machine's run, before the next is built: whatever holds the machine
    /// must let it go then, or its disks (still locked) and taps stop the reboot in place.
    var finished: () -> Void = {}
    /// The process serves or uses sockets besides the machine's (the pod network's DHCP server,
    /// HTTP endpoints, TCP readiness checks): the process sandbox allows them.
    var networkServices = false
    /// Set once the process sandbox is in place: from then on nothing set-up made can be undone
    /// (no capability is left to remove a tap or a table).
    let sandboxed = SandboxFlag()
    /// The process opens disk images later (`serve`'s PATCH /drives): the sandbox allows opening
    /// files for writing.
    var opensDiskImages = false

    /// Boots until the guest ends without a reset (or resets without reboot in place); returns
    /// how the last boot ended. Each reboot in place builds the next machine on the previous
    /// one's host resources (`Machine(rebootingWith:)`): nothing is opened again.
    func run() throws(CommandFailure) -> MachineExit {
        var bootCount = 0
        var host: MachineHostResources?
        while true {
            bootCount += 1
            let (exit, next) = try boot(reusing: host)
            guard exit == .reset, rebootInPlace, let next else { return exit }
            host = next
            RunLog.note("guest reset: rebooting in place (boot \(bootCount + 1))")
        }
    }

    /// Builds a fresh machine (on `host`, the previous machine's host resources, from the second
    /// boot on), runs it to its end and releases it (its memory, vCPUs and devices; the host
    /// resources it returns stay open for the next boot). A signal that came before the boot
    /// ends the run.
    private func boot(reusing host: MachineHostResources?) throws(CommandFailure) -> (
        MachineExit, MachineHostResources?
    ) {
        let firstBoot = host == nil
        // Found while /proc is open and before guest memory exists (smaps walks every mapping);
        // released once the first machine runs.
        let startupCode: StartupCode? = firstBoot ? StartupCode.locate() : nil
        let machine: Machine
        do {
            if let host {
                machine = try Machine(rebootingWith: host, logger: logger, events: events)
            } else {
                machine = try Machine(configuration: configuration, logger: logger, events: events)
            }
        } catch {
            throw CommandFailure(error)
        }
        if firstBoot {
            // Once, after set-up and before the machine's threads exist (they stack their own
            // filters on this one): every thread of the process drops every capability (checked
            // in /proc/self/task) and goes under the process filter; the signal thread starts
            // after (it needs nothing more).
            do {
                try ProcessSandbox.restrict(
                    for: configuration, rebuilds: rebootInPlace, networkServices: networkServices,
                    opensDiskImages: opensDiskImages)
            } catch {
                throw CommandFailure(error)
            }
            sandboxed.set()
            signals.start()
        }
        guard signals.attach(machine) else {
            RunLog.note("a stop signal came during the reboot: not booting again")
            return (.stopped, nil)
        }
        defer {
            signals.detach()
            finished()
        }
        prepare(machine)
        do {
            try machine.start()
            started(machine)
            startupCode?.release()
            let exit = machine.waitForExit()
            let next = exit == .reset && rebootInPlace ? try machine.hostResourcesForReboot() : nil
            return (exit, next)
        } catch {
            try? machine.stop()
            _ = machine.waitForExit()
            throw CommandFailure(error)
        }
    }
}

/// Whether the process sandbox is in place.
final class SandboxFlag: Sendable {
    private let value = Atomic<Bool>(false)

    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}
