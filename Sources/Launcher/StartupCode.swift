import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// The machine code that only set-up ran, handed back once the machine runs.
///
/// Measured on the static release binary (Benchmarks/memory/footprint.py, /proc/PID/smaps): of
/// an idle VMM's ~16 MiB resident, ~9.5 MiB were pages of the executable's 24 MiB code mapping
/// that argument parsing, configuration, logging set-up and the machine's build had touched —
/// the kernel maps file pages in 64 KiB windows around each fault ("fault-around"), so a few
/// hundred scattered functions keep a third of the code resident — and ~1.4 MiB the shared
/// libraries' code. A running VMM needs a few of those windows (the exit loop, the I/O thread,
/// the event loop). `MADV_DONTNEED` over the code mappings unmaps them from this process; what
/// runs afterwards maps its windows again on first use (minor faults: the pages stay in the page
/// cache, shared with every other process that maps the same files). Only private file mappings
/// that are readable and executable, not writable, and hold no page of their own (smaps
/// `Anonymous: 0 kB`: no text relocation, no breakpoint) are advised, so nothing can be lost.
struct StartupCode {
    /// A code mapping: its start address and length in bytes.
    private let ranges: [(start: UInt, bytes: Int)]

    /// Finds the process's code mappings in /proc/self/smaps: call before the process sandbox
    /// closes /proc. Empty when they cannot be read (nothing is released then).
    static func locate() -> StartupCode {
        // A debugger's breakpoints live in those pages: SWIFTVMM_KEEP_STARTUP_CODE=1 keeps them.
        if getenv("SWIFTVMM_KEEP_STARTUP_CODE") != nil { return StartupCode(ranges: []) }
        guard let smaps = readWhole("/proc/self/smaps") else { return StartupCode(ranges: []) }
        return StartupCode(ranges: codeRanges(smaps: smaps))
    }

    /// The r-xp file mappings without a page of their own, parsed as bytes (as Strings, the
    /// ~50 KiB took ~6 ms, on the way to the guest's first instruction).
    static func codeRanges(smaps: [UInt8]) -> [(start: UInt, bytes: Int)] {
        let space = UInt8(ascii: " ")
        var ranges: [(start: UInt, bytes: Int)] = []
        var candidate: (start: UInt, bytes: Int)?
        for line in smaps.split(separator: UInt8(ascii: "\n")) {
            // A mapping's first line: start-end perms offset dev inode path; then "Key: value kB"
            // lines, of which only Anonymous matters (the others are not split).
            let isHeader = line.first.map { hexadecimal([$0][...]) != nil } ?? false
            guard isHeader || line.starts(with: "Anonymous:".utf8) else { continue }
            let fields = line.split(separator: space, maxSplits: 5, omittingEmptySubsequences: true)
            guard let first = fields.first else { continue }
            if isHeader {
                candidate = nil  // a block without an Anonymous line is left alone
                guard fields.count == 6, fields[1].elementsEqual("r-xp".utf8),
                    fields[5].first(where: { $0 != space }) == UInt8(ascii: "/")
                else { continue }
                let bounds = first.split(separator: UInt8(ascii: "-"))
                guard bounds.count == 2, let start = hexadecimal(bounds[0]), let end = hexadecimal(bounds[1]),
                    end > start
                else { continue }
                candidate = (start, Int(end - start))
            } else if first.elementsEqual("Anonymous:".utf8), let code = candidate {
                if fields.count >= 2, fields[1].elementsEqual("0".utf8) { ranges.append(code) }
                candidate = nil
            }
        }
        return ranges
    }

    private static func hexadecimal(_ digits: ArraySlice<UInt8>) -> UInt? {
        guard !digits.isEmpty, digits.count <= 16 else { return nil }
        var value: UInt = 0
        for digit in digits {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = value << 4 | UInt(digit - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = value << 4 | UInt(digit - UInt8(ascii: "a") + 10)
            default: return nil
            }
        }
        return value
    }

    /// Unmaps the code mappings from this process (they fault back in as code runs). Returns the
    /// bytes of address space advised.
    @discardableResult
    func release() -> Int {
        var advised = 0
        for range in ranges {
            // SAFETY: the range is one of this process's r-xp private file mappings without a page
            // of its own, found in /proc/self/smaps; MADV_DONTNEED on it drops page table entries
            // only, and the kernel maps the unchanged file pages again when that code runs next.
            guard let address = UnsafeMutableRawPointer(bitPattern: range.start),
                madvise(address, range.bytes, MADV_DONTNEED) == 0
            else { continue }
            advised += range.bytes
        }
        return advised
    }

    /// A /proc file read to its end (its size reads as 0, and Foundation's String(contentsOfFile:)
    /// read only the first part of smaps), at most `limit` bytes.
    private static func readWhole(_ path: String, limit: Int = 16 << 20) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while bytes.count < limit {
            // SAFETY: read(2) writes at most chunk.count bytes into the array's own storage.
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { return bytes }
            bytes += chunk[0..<count]
        }
        return nil  // larger than any smaps of this process should be: release nothing
    }
}
