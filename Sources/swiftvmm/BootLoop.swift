import Logging
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
    /// The process serves or uses sockets besides the machine's (the pod network's DHCP server
    /// and nftables): the process sandbox allows them.
    var networkServices = false

    /// Boots until the guest ends without a reset (or resets without reboot in place); returns
    /// how the last boot ended.
    func run() throws(CommandFailure) -> MachineExit {
        var bootCount = 0
        while true {
            bootCount += 1
            let exit = try boot(firstBoot: bootCount == 1)
            guard exit == .reset, rebootInPlace else { return exit }
            RunLog.note("guest reset: rebooting in place (boot \(bootCount + 1))")
        }
    }

    /// Builds a fresh machine, runs it to its end and releases it (memory, vCPUs, disk locks and
    /// taps are closed before the next boot). A signal that came before the boot ends the run.
    private func boot(firstBoot: Bool) throws(CommandFailure) -> MachineExit {
        // Found while /proc is open and before guest memory exists (smaps walks every mapping);
        // released once the first machine runs.
        let startupCode: StartupCode? = firstBoot ? StartupCode.locate() : nil
        let machine: Machine
        do {
            machine = try Machine(configuration: configuration, logger: logger, events: events)
        } catch {
            throw CommandFailure(error)
        }
        if firstBoot {
            // Once, after set-up and before the machine's threads exist (they stack their own
            // filters on this one): every thread under the process filter, capabilities dropped;
            // then the signal handling starts (its threads are born without capabilities).
            do {
                try ProcessSandbox.restrict(
                    for: configuration, rebuilds: rebootInPlace, networkServices: networkServices)
            } catch {
                throw CommandFailure(error)
            }
            signals.start()
        }
        guard signals.attach(machine) else {
            RunLog.note("a stop signal came during the reboot: not booting again")
            return .stopped
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
            return machine.waitForExit()
        } catch {
            try? machine.stop()
            _ = machine.waitForExit()
            throw CommandFailure(error)
        }
    }
}
