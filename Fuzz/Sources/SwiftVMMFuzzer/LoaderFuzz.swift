@testable import Boot
@testable import GuestMemory

/// The ELF/PVH and bzImage loaders on arbitrary images (seeded with the headers of Debian's
/// cloud kernel by run-fuzz.sh): a plan or a BootError, never a trap; a plan's placements lie
/// inside guest RAM.
enum LoaderFuzz {
    static let layout = try! GuestMemoryLayout(totalBytes: 256 << 20)

    static func runPVH(_ bytes: [UInt8]) {
        guard let loader = try? PVHLoader(elf: bytes) else { return }
        let initrd = bytes.count > 64 ? Array(bytes.suffix(64)) : nil
        if let plan = try? loader.plan(layout: layout, commandLine: "console=ttyS0", initrd: initrd) {
            check(plan)
        }
    }

    static func runBzImage(_ bytes: [UInt8]) {
        guard let loader = try? BzImageLoader(bzImage: bytes) else { return }
        let initrd = bytes.count > 64 ? Array(bytes.suffix(64)) : nil
        if let plan = try? loader.plan(layout: layout, commandLine: "console=ttyS0", initrd: initrd) {
            check(plan)
        }
    }

    static func check(_ plan: BootPlan) {
        for placement in plan.placements {
            let (size, overflow) = UInt64(placement.bytes.count).addingReportingOverflow(placement.zeroFill)
            let end = placement.address.addingReportingOverflow(size)
            precondition(
                !overflow && !end.overflow
                    && layout.ranges.contains { $0.start.rawValue <= placement.address && end.partialValue <= $0.end },
                "a placement outside guest RAM")
        }
    }
}
