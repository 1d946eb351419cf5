import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// The executable's machine code that only set-up ran, handed back once the machine runs.
///
/// Measured on the static release binary (Benchmarks/memory/footprint.py, /proc/PID/smaps): of
/// an idle VMM's ~16 MiB resident, ~9.5 MiB were pages of the executable's 24 MiB code mapping
/// that argument parsing, configuration, logging set-up and the machine's build had touched —
/// the kernel maps file pages in 64 KiB windows around each fault ("fault-around"), so a few
/// hundred scattered functions keep a third of the code resident. A running VMM needs a few
/// of those windows (the exit loop, the I/O thread, the event loop). `MADV_DONTNEED` over the
/// code mapping unmaps all of it from this process; what runs afterwards maps its windows
/// again on first use (minor faults: the pages stay in the page cache, shared with every other
/// swiftvmm on the host). It only ever touches the executable's read-only, executable,
/// private file mappings, whose pages are never written (W^X), so nothing can be lost; a
/// debugger's breakpoints in them would be.
struct StartupCode {
    /// A code mapping of the executable: its start address and length in bytes.
    private let ranges: [(start: UInt, bytes: Int)]

    /// Finds the executable's code mappings in /proc/self/maps: call before the process sandbox
    /// closes /proc. Empty when they cannot be read (nothing is released then).
    static func locate() -> StartupCode {
        // A debugger's breakpoints live in those pages: SWIFTVMM_KEEP_STARTUP_CODE=1 keeps them.
        if getenv("SWIFTVMM_KEEP_STARTUP_CODE") != nil { return StartupCode(ranges: []) }
        guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else {
            return StartupCode(ranges: [])
        }
        var ranges: [(start: UInt, bytes: Int)] = []
        for line in maps.split(separator: "\n") {
            // start-end perms offset dev inode path
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6, fields[1] == "r-xp", fields[5].trimmingPrefix(while: { $0 == " " }).first == "/"
            else { continue }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16),
                end > start
            else { continue }
            ranges.append((start, Int(end - start)))
        }
        return StartupCode(ranges: ranges)
    }

    /// Unmaps the code mappings from this process (they fault back in as code runs). Returns the
    /// bytes of address space advised.
    @discardableResult
    func release() -> Int {
        var advised = 0
        for range in ranges {
            // SAFETY: the range is one of this executable's r-xp private file mappings, found in
            // /proc/self/maps; MADV_DONTNEED on it drops page table entries only, and the kernel
            // maps the unchanged file pages again on the next execution of that code.
            guard let address = UnsafeMutableRawPointer(bitPattern: range.start),
                madvise(address, range.bytes, MADV_DONTNEED) == 0
            else { continue }
            advised += range.bytes
        }
        return advised
    }
}
