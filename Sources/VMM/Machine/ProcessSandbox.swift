import Sandbox
import Threads

/// The process-wide half of the sandbox, for executables: the machine's own threads restrict
/// themselves (vCPU, I/O, console); this restricts every thread of the process and drops the
/// capabilities the run no longer needs.
package enum ProcessSandbox {
    /// The exit status of a process stopped by a forbidden system call.
    package static let violationExitStatus = Sandboxing.violationExitStatus

    /// Call once, after the first machine is built and before it starts (a thread's own filter
    /// must come after the process filter). With `rebuilds` (reboot in place) the process keeps
    /// what building the next machine needs: CAP_NET_ADMIN when there are NICs (taps are opened
    /// again) and CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH (disk images and kernels are opened
    /// again); otherwise it keeps no capability at all. With `networkServices` the process may
    /// serve and use sockets (the launcher's DHCP server and nftables, HTTP endpoints).
    package static func restrict(
        for configuration: VirtualMachineConfiguration, rebuilds: Bool, networkServices: Bool = false
    ) throws(MachineError) {
        var keep: Set<Capability> = []
        if rebuilds {
            keep = [.dacOverride, .dacReadSearch]
            if !configuration.networkInterfaces.isEmpty { keep.insert(.netAdmin) }
        }
        do {
            try Sandboxing.restrictProcess(
                mode: configuration.seccomp.filterMode, keeping: keep, networkServices: networkServices,
                ringSetup: setsUpRingsLater(configuration, rebuilds: rebuilds))
        } catch {
            throw .setupFailed("seccomp", error.description)
        }
    }

    /// Whether the process may set up io_uring rings under its filter: only when it builds the
    /// machine again (reboot in place) and a disk may take io_uring (`aio` auto or io_uring).
    /// The first machine's rings exist before the filter.
    package static func setsUpRingsLater(_ configuration: VirtualMachineConfiguration, rebuilds: Bool) -> Bool {
        rebuilds && configuration.disks.contains { $0.aio == .auto || $0.aio == .ioUring }
    }

    /// For tests of the filters: starts a thread named `vcpu-check` under the vCPU profile in
    /// `mode` and makes a system call that profile forbids (socket(2)). Under `enforce` the
    /// process ends with `violationExitStatus` and this never returns; under `log` it returns
    /// what socket(2) returned.
    package static func makeForbiddenCallOnAVCPUThread(mode: SeccompMode) throws(MachineError) -> Int32 {
        let result = ResultBox()
        do {
            let thread = try OSThread(name: "vcpu-check") {
                do { try Sandboxing.restrictCurrentThread(.vcpu, mode: mode.filterMode) } catch {
                    result.value = -2
                    return
                }
                result.value = Sandboxing.forbiddenCallForTests()
            }
            thread.join()
        } catch {
            throw .setupFailed("seccomp", "\(error)")
        }
        return result.value
    }
}

private final class ResultBox: @unchecked Sendable {
    // SAFETY (@unchecked Sendable): written by one thread before join() returns to the reader.
    var value: Int32 = -1
}
