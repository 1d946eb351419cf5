import Foundation
import Testing

/// The asynchronous block engines through the binary and the firmware's driver: the pattern
/// byte-exact and a FLUSH made available behind writes in flight completing after all of them,
/// for every `aio` and with one or four queues; the fallback to worker threads where io_uring is
/// refused (a seccomp filter, as container runtimes' default profiles have).
@Suite(.serialized, .enabled(if: kvmUsable, kvmSkipReason), .tags(.kvm))
struct DiskEngineTests {
    static let combinations: [(String, Int)] = ["sync", "threads", "io_uring", "auto"].flatMap { aio in
        [1, 4].map { (aio, $0) }
    }

    @Test(arguments: combinations)
    func everyEngineWritesThePatternAndOrdersFlushesBehindWrites(aio: String, queues: Int) throws {
        let disks = try ScratchDisks()
        let image = try disks.image("engine.img", mebibytes: 8)
        let result = try SwiftVMMBinary.run([
            "run", "--log-level", "info", "--disk", "path=\(image),aio=\(aio),queues=\(queues)",
            "--cmdline", "fw.test=blk fw.blk-mib=8 fw.blk-flush-behind fw.blk-queue=\(queues - 1)",
        ])
        #expect(result.status == 0, "stderr: \(result.standardError)")
        let lines = firmwareLines(result.standardOutput)
        for expected in [
            "fw: blk0 flush ok", "fw: blk0 flush behind 63 writes ok", "fw: blk0 OK 16384 sectors written and verified",
            "fw: blk OK",
        ] {
            #expect(lines.contains(expected), "\(expected) in \(lines)")
        }
        #expect(try patternMismatch(path: image, diskIndex: 0) == nil)
        // auto takes io_uring here (no seccomp profile refuses it on the test host).
        let engine = aio == "auto" ? "io_uring" : aio
        #expect(result.standardError.contains("disks[0]: aio \(engine)"), "\(result.standardError)")
    }

    /// `scripts/without-io-uring.py` runs swiftvmm under a seccomp filter that refuses the
    /// io_uring system calls with EPERM, as Docker's, podman's and Kubernetes' RuntimeDefault
    /// profiles do.
    private func runWithoutIOUring(_ arguments: [String]) throws -> SwiftVMMBinary.Result {
        let wrapper = SwiftVMMBinary.repositoryRoot.appendingPathComponent("scripts/without-io-uring.py")
        let process = try RunningProcess(executable: wrapper, arguments: [SwiftVMMBinary.url.path] + arguments)
        let (status, timedOut) = process.waitForExit(timeoutSeconds: 60)
        #expect(!timedOut)
        return SwiftVMMBinary.Result(
            status: status, standardOutput: process.standardOutput.text, standardError: process.standardError.text)
    }

    @Test func autoFallsBackToWorkerThreadsWhereIoUringIsRefused() throws {
        let disks = try ScratchDisks()
        let image = try disks.image("fallback.img", mebibytes: 4)
        let result = try runWithoutIOUring([
            "run", "--log-level", "info", "--disk", "path=\(image)",
            "--cmdline", "fw.test=blk fw.blk-mib=4 fw.blk-flush-behind",
        ])
        #expect(result.status == 0, "stderr: \(result.standardError)")
        #expect(
            result.standardError.contains("disks[0]: aio threads (aio auto: io_uring is not available:")
                && result.standardError.contains("errno 1"),
            "\(result.standardError)")
        let lines = firmwareLines(result.standardOutput)
        #expect(lines.contains("fw: blk0 flush behind 63 writes ok") && lines.contains("fw: blk OK"), "\(lines)")
        #expect(try patternMismatch(path: image, diskIndex: 0) == nil)
    }

    @Test func explicitIoUringIsAOneLineErrorWhereItIsRefused() throws {
        let disks = try ScratchDisks()
        let image = try disks.image("refused.img", mebibytes: 1)
        let before = try Data(contentsOf: URL(fileURLWithPath: image))
        let result = try runWithoutIOUring([
            "run", "--disk", "path=\(image),aio=io_uring", "--cmdline", "fw.test=blk",
        ])
        #expect(result.status == 2, "hostUnsupported; stderr: \(result.standardError)")
        #expect(result.errorLines.count == 1, "\(result.standardError)")
        #expect(
            result.standardError.contains("disks[0].aio: io_uring is not available")
                && result.standardError.contains("use aio auto or threads"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: image)) == before, "nothing written")
    }

    @Test func aBadAioValueIsAOneLineError() throws {
        let result = try SwiftVMMBinary.run(["run", "--disk", "path=/tmp/x.img,aio=posix", "--cmdline", "fw.test=blk"])
        #expect(result.status == 10)
        #expect(result.errorLines.count == 1 && result.standardError.contains("auto, io_uring, threads or sync"))
    }
}
