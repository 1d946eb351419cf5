import Sandbox
import Threads

/// The process-wide half of the sandbox, for executables: the machine's own threads restrict
/// themselves (vCPU, I/O, console); this restricts every thread of the process and drops the
/// capabilities the run no longer needs.
package enum ProcessSandbox {
    /// The exit status of a process stopped by a forbidden system call.
    package static let violationExitStatus = Sandboxing.violationExitStatus

    /// Call once, after the first machine is built and before it starts (a thread's own filter
    /// must come after the process filter): every thread of the process drops every capability
    /// (checked in /proc/self/task), then goes under the process filter. Nothing later needs a
    /// capability: a reboot in place (`rebuilds`) builds the next machine on the first one's
    /// host resources (`Machine(rebooting:)`), which stay open. `networkServices`: the process
    /// serves and uses sockets (the launcher's DHCP server, HTTP endpoints, TCP readiness
    /// checks); `opensDiskImages`: it opens images for writing later (PATCH /drives).
    package static func restrict(
        for configuration: VirtualMachineConfiguration, rebuilds: Bool, networkServices: Bool = false,
        opensDiskImages: Bool = false
    ) throws(MachineError) {
        do {
            try Sandboxing.restrictProcess(
                mode: configuration.seccomp.filterMode,
                policy: ProcessPolicy(
                    networkServices: networkServices, rebuildsMachines: rebuilds, opensDiskImages: opensDiskImages))
        } catch {
            throw .setupFailed("seccomp", error.description, cause: error.cause)
        }
    }

    /// For tests of the filters: puts the process under the process filter of a run (no
    /// network services, no reboot in place), in `mode`, then makes each call it refuses, on
    /// `path` for the file ones, and reports each (`SandboxProbe`'s name and 0 or the errno)
    /// through `report` as it returns. The last probe, a signal outside the process, ends the
    /// process with `violationExitStatus` under `enforce`.
    package static func probeProcessFilter(
        mode: SeccompMode, path: String, report: (_ probe: String, _ errno: Int32) -> Void
    ) throws(MachineError) {
        do {
            try Sandboxing.restrictProcess(mode: mode.filterMode, policy: ProcessPolicy())
        } catch {
            throw .setupFailed("seccomp", error.description, cause: error.cause)
        }
        for probe in SandboxProbe.allCases { report(probe.rawValue, probe.attempt(path: path)) }
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

extension SandboxError {
    /// The system call that failed, if one did.
    var cause: SystemCause? { failedCall.map { SystemCause(operation: $0.operation, errno: $0.errno) } }
}
