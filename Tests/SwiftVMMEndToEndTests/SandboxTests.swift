import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The seccomp filters and dropped capabilities, seen from outside the real binary.
@Suite(
    .serialized,
    .enabled(
        if: FileManager.default.isWritableFile(atPath: "/dev/kvm"), "SKIPPED: needs read/write access to /dev/kvm"))
struct SandboxTests {
    /// A system call the vCPU filter forbids ends the process with status 16 and one line that
    /// names the thread; under `--seccomp log` the call goes through.
    @Test func aForbiddenCallOnAVCPUThreadEndsTheProcessWithStatus16() throws {
        let enforced = try SwiftVMMBinary.run(["sandbox-check"])
        #expect(enforced.status == 16, "stderr: \(enforced.standardError)")
        #expect(enforced.standardError.contains("seccomp: thread 'vcpu-check' made system call 41"))
        let logged = try SwiftVMMBinary.run(["sandbox-check", "--seccomp", "log"])
        #expect(logged.status == 0, "stderr: \(logged.standardError)")
    }

    /// While a guest with a disk and an entropy device runs, every thread has the process
    /// filter, the vCPU, I/O, console and block worker threads their own on top (io_uring's
    /// kernel workers, iou-wrk-*, are made by the I/O thread and carry its filters), and no
    /// thread holds a capability; SIGTERM still powers the guest off cleanly (status 0).
    @Test(arguments: ["auto", "threads"])
    func everyThreadIsFilteredAndHoldsNoCapability(aio: String) throws {
        let disk = try SwiftVMMBinary.temporaryFile("sandbox.img", contents: Data(count: 1 << 20))
        let process = try RunningProcess(
            executable: SwiftVMMBinary.url,
            arguments: [
                "run", "--cpus", "2", "--rng", "--disk", "path=\(disk.path),aio=\(aio)", "--cmdline",
                "fw.test=blk fw.wait=button",
            ])
        let waiting = process.waitForOutput(containing: "fw: waiting for the power button", timeoutSeconds: 60)
        #expect(waiting, "output so far: \(process.standardOutput.text) \(process.standardError.text)")
        let tasks = "/proc/\(process.processIdentifier)/task"
        var seen: [String: (filters: Int, capabilities: String)] = [:]
        for task in (try? FileManager.default.contentsOfDirectory(atPath: tasks)) ?? [] {
            guard let status = try? String(contentsOfFile: "\(tasks)/\(task)/status", encoding: .utf8) else { continue }
            func field(_ name: String) -> String {
                status.split(separator: "\n").first { $0.hasPrefix(name + ":") }.map {
                    $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces)
                } ?? ""
            }
            seen[field("Name") + "/" + task] = (Int(field("Seccomp_filters")) ?? -1, field("CapEff"))
        }
        process.send(SIGTERM)
        let (status, timedOut) = process.waitForExit(timeoutSeconds: 30)
        #expect(!timedOut)
        #expect(status == 0, "stderr: \(process.standardError.text)")
        #expect(seen.count >= 5, "threads: \(seen)")
        // KVM's own kernel worker (kvm-nx-lpage-recovery) is listed among the process's tasks.
        for (thread, state) in seen where !thread.hasPrefix("kvm-") {
            let ownFilter = ["vcpu", "vmm-io", "vmm-console", "vmm-blk", "iou-wrk"].contains { thread.hasPrefix($0) }
            #expect(state.filters == (ownFilter ? 2 : 1), "\(thread): \(state.filters) seccomp filters")
            #expect(state.capabilities == "0000000000000000", "\(thread) holds capabilities \(state.capabilities)")
        }
        #expect(seen.keys.contains { $0.hasPrefix("vcpu1/") })
        if aio == "threads" {
            #expect(seen.keys.filter { $0.hasPrefix("vmm-blk0-") }.count == 8, "the disk's 8 workers: \(seen.keys)")
        }
    }
}
