import EmbeddedFirmware
import Foundation
import Testing

/// Whether this process may size the host's huge-page pool (root, and the pool's sysctl exists).
let hugePagePoolAdjustable =
    kvmUsable && getuid() == 0 && FileManager.default.isWritableFile(atPath: "/proc/sys/vm/nr_hugepages")

/// The host's 2 MiB huge-page pool, resized for a test and put back afterwards.
struct HugePagePoolSize {
    static let directory = "/sys/kernel/mm/hugepages/hugepages-2048kB"

    static func read(_ name: String) -> Int {
        Int(((try? String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8)) ?? "").filter(\.isNumber)) ?? -1
    }

    /// Sets the pool to `pages` and returns what it was.
    @discardableResult
    static func set(_ pages: Int) throws -> Int {
        let before = read("nr_hugepages")
        try "\(pages)\n".write(toFile: "/proc/sys/vm/nr_hugepages", atomically: false, encoding: .utf8)
        return before
    }
}

/// memory_backing and memory_prefault through the binary: huge pages from a pool the test sizes
/// (and puts back), the errors when the pool is short, and what prefault makes resident.
@Suite(
    .tags(.kvm),
    .serialized,
    .enabled(
        if: hugePagePoolAdjustable,
        "SKIPPED: needs /dev/kvm and root (to size /proc/sys/vm/nr_hugepages for the huge-page tests)"))
struct MemoryBackingTests {
    /// A /proc/PID/status field in KiB.
    func status(_ pid: Int32, _ field: String) -> Int {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
        return Int(line.filter(\.isNumber)) ?? -1
    }

    @Test func hugePagesComeFromThePoolAndAShortPoolIsOneLine() throws {
        let original = try HugePagePoolSize.set(0)
        defer { _ = try? HugePagePoolSize.set(original) }
        if HugePagePoolSize.read("nr_hugepages") == 0 {
            let short = try SwiftVMMBinary.run(["run", "--memory", "64", "--memory-backing", "hugetlbfs"])
            #expect(short.status == 13 && short.errorLines.count == 1, "\(short.standardError)")
            #expect(
                short.standardError.contains("memory_backing hugetlbfs")
                    && short.standardError.contains("hugepages-2Mi"))
        }
        let odd = try SwiftVMMBinary.run(["run", "--memory", "65", "--memory-backing", "hugetlbfs"])
        #expect(odd.status == 10 && odd.standardError.contains("even number of MiB"))

        try HugePagePoolSize.set(original + 64)
        try #require(HugePagePoolSize.read("free_hugepages") >= 64, "the host could not reserve 64 huge pages")
        let freeBefore = HugePagePoolSize.read("free_hugepages")
        let guest = try RunningProcess(
            executable: SwiftVMMBinary.url,
            arguments: [
                "run", "--memory", "128", "--memory-backing", "hugetlbfs", "--memory-prefault", "--cmdline",
                "fw.wait=button",
            ])
        #expect(guest.waitForOutput(containing: "fw: waiting for the power button", timeoutSeconds: 60))
        #expect(freeBefore - HugePagePoolSize.read("free_hugepages") == 64, "all 128 MiB from the pool")
        #expect(status(guest.pid, "HugetlbPages") == 128 * 1024)
        guest.send(SIGTERM)
        #expect(guest.waitForExit(timeoutSeconds: 30) == (0, false), "\(guest.standardError.text)")
        #expect(HugePagePoolSize.read("free_hugepages") == freeBefore, "given back at exit")
    }

    @Test(arguments: [("anonymous", "RssAnon"), ("memfd", "RssShmem")])
    func prefaultMakesTheGuestResidentFromTheStart(backing: String, field: String) throws {
        let guest = try RunningProcess(
            executable: SwiftVMMBinary.url,
            arguments: [
                "run", "--memory", "128", "--memory-backing", backing, "--memory-prefault", "--cmdline",
                "fw.wait=button",
            ])
        #expect(guest.waitForOutput(containing: "fw: waiting for the power button", timeoutSeconds: 60))
        #expect(status(guest.pid, field) >= 128 * 1024, "\(field) \(status(guest.pid, field)) KiB")
        guest.send(SIGTERM)
        #expect(guest.waitForExit(timeoutSeconds: 30) == (0, false))
        let lazy = try RunningProcess(
            executable: SwiftVMMBinary.url,
            arguments: ["run", "--memory", "128", "--memory-backing", backing, "--cmdline", "fw.wait=button"])
        #expect(lazy.waitForOutput(containing: "fw: waiting for the power button", timeoutSeconds: 60))
        #expect(status(lazy.pid, field) < 64 * 1024, "without prefault only what the guest touched")
        lazy.send(SIGTERM)
        #expect(lazy.waitForExit(timeoutSeconds: 30) == (0, false))
    }

    @Test func firecrackersTwoMiBHugePagesAreTheHugetlbfsBacking() throws {
        let original = try HugePagePoolSize.set(HugePagePoolSize.read("nr_hugepages") + 32)
        defer { _ = try? HugePagePoolSize.set(original) }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftvmm-huge-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let kernel = directory.appendingPathComponent("firmware.elf").path
        FileManager.default.createFile(atPath: kernel, contents: Data(EmbeddedFirmware.elf))
        let config = directory.appendingPathComponent("vm.json")
        try Data(
            #"{"boot-source": {"kernel_image_path": "\#(kernel)", "boot_args": "fw.wait=button"}, "machine-config": {"vcpu_count": 1, "mem_size_mib": 64, "huge_pages": "2M"}}"#
                .utf8
        ).write(to: config)
        let guest = try RunningProcess(
            executable: SwiftVMMBinary.url, arguments: ["serve", "--no-api", "--config-file", config.path])
        #expect(guest.waitForOutput(containing: "fw: waiting for the power button", timeoutSeconds: 60))
        #expect(HugePagePoolSize.read("resv_hugepages") + (32 - HugePagePoolSize.read("free_hugepages")) >= 32)
        guest.send(SIGTERM)
        #expect(guest.waitForExit(timeoutSeconds: 30) == (0, false), "\(guest.standardError.text)")
    }
}
