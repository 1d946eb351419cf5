import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The seccomp filters and dropped capabilities, seen from outside the real binary.
@Suite(
    .tags(.kvm),
    .serialized,
    .enabled(if: kvmUsable, kvmSkipReason))
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

    /// The process filter from inside the real binary: an executable mapping, opening a file for
    /// writing, removing it, an io_uring and a unix socket fail with EACCES (the file is
    /// untouched), and a signal outside the process stops it with status 16; under `log` only
    /// that last call goes through (logged): the refusals are rules of their own.
    @Test func theProcessFilterRefusesWhatNoThreadNeedsAfterSetUp() throws {
        let file = try SwiftVMMBinary.temporaryFile("probe-target", contents: Data("kept".utf8))
        defer { try? FileManager.default.removeItem(at: file) }
        let enforced = try SwiftVMMBinary.run(["sandbox-check", "--process", file.path])
        #expect(enforced.status == 16, "stderr: \(enforced.standardError)")
        for probe in ["exec-mmap", "open-write", "unlink", "io-uring-setup", "unix-socket"] {
            #expect(enforced.standardError.contains("probe \(probe): errno \(EACCES)"), "\(enforced.standardError)")
        }
        #expect(enforced.standardError.contains("made system call 234"), "tgkill outside the process")
        #expect(try String(contentsOf: file, encoding: .utf8) == "kept")
        let logged = try SwiftVMMBinary.run(["sandbox-check", "--process", file.path, "--seccomp", "log"])
        #expect(logged.status == 0, "\(logged.standardError)")
        #expect(logged.standardError.contains("probe unlink: errno \(EACCES)"), "\(logged.standardError)")
        #expect(logged.standardError.contains("probe signal-outside: errno 0"), "\(logged.standardError)")
        #expect(try String(contentsOf: file, encoding: .utf8) == "kept")
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
        let threads = ThreadPrivileges.expectUnprivileged(
            process.processIdentifier, including: ["vcpu0", "vcpu1", "vmm-io", "vmm-console", "vmm-signals"])
        process.send(SIGTERM)
        let (status, timedOut) = process.waitForExit(timeoutSeconds: 30)
        #expect(!timedOut)
        #expect(status == 0, "stderr: \(process.standardError.text)")
        // The machine's own threads stack their filter on the process filter (io_uring's kernel
        // workers, iou-wrk-*, are made by the I/O thread and carry its filters).
        for thread in threads where !thread.name.hasPrefix("kvm-") {
            let ownFilter = ["vcpu", "vmm-io", "vmm-console", "vmm-blk", "iou-wrk"].contains {
                thread.name.hasPrefix($0)
            }
            #expect(thread.filterCount == (ownFilter ? 2 : 1), "\(thread)")
        }
        if aio == "threads" {
            #expect(threads.filter { $0.name.hasPrefix("vmm-blk0-") }.count == 8, "the disk's 8 workers: \(threads)")
        }
    }

    /// `run --http` with a probe socket and a TCP readiness rule: SwiftNIO's event loops and
    /// Dispatch's workers (which serve HTTP from the network) hold no capability either.
    @Test func theHTTPEndpointsThreadsHoldNoCapability() throws {
        let directory = try SwiftVMMBinary.temporaryFile("probe-dir", contents: Data()).deletingLastPathComponent()
        let probe = directory.appendingPathComponent("probe-\(getpid()).sock").path
        let port = 20_000 + Int(getpid() % 20_000)
        let process = try RunningProcess(
            executable: SwiftVMMBinary.url,
            arguments: [
                "run", "--http", "127.0.0.1:\(port)", "--probe-socket", probe, "--ready-tcp", "127.0.0.1:\(port)",
                "--cmdline", "fw.wait=button",
            ])
        defer { unlink(probe) }
        #expect(process.waitForOutput(containing: "fw: waiting for the power button", timeoutSeconds: 60))
        let curl = try HostTool.require("curl", package: "curl")
        let answered = try waitFor(10) {
            let probe = try RunningProcess(
                executable: URL(fileURLWithPath: curl), arguments: ["-s", "-m", "2", "http://127.0.0.1:\(port)/readyz"])
            _ = probe.waitForExit(timeoutSeconds: 5)
            return probe.standardOutput.text.contains("accepts connections")
        }
        #expect(answered, "the endpoint served /readyz: \(process.standardError.text)")
        ThreadPrivileges.expectUnprivileged(process.processIdentifier, including: ["NIO-", "vcpu0", "vmm-signals"])
        process.send(SIGTERM)
        let (status, timedOut) = process.waitForExit(timeoutSeconds: 30)
        #expect(!timedOut && status == 0, "\(process.standardError.text)")
    }
}
