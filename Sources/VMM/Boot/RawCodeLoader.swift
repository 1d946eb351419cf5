import GuestMemory
@_spi(ExitPath) import KVM

/// Places a `RawCodeBoot` guest in memory and computes its vCPU's initial registers.
enum RawCodeLoader {
    /// Page tables for `long64User`: PML4, PDPT, then four page directories of 2 MiB pages
    /// identity-mapping the first 4 GiB (RAM and the MMIO hole) with user access.
    static let pml4Address: UInt64 = 0x1000
    static let pdptAddress: UInt64 = 0x2000
    static let firstPageDirectoryAddress: UInt64 = 0x3000
    /// Initial stack pointer (the stack page lies just below the lowest load address).
    static let stackTop: UInt64 = RawCodeBoot.minimumLoadAddress

    /// Writes the code (and for long mode the page tables) into `memory`.
    static func load(_ boot: RawCodeBoot, into memory: GuestMemory) throws(GuestMemoryError) {
        try memory.write(boot.code, at: GuestAddress(boot.loadAddress))
        guard boot.mode == .long64User else { return }
        let present: UInt64 = 1, writable: UInt64 = 2, user: UInt64 = 4, largePage: UInt64 = 0x80
        try memory.store(pdptAddress | present | writable | user, at: GuestAddress(pml4Address))
        for directory in 0..<UInt64(4) {
            let directoryAddress = firstPageDirectoryAddress + directory * 0x1000
            try memory.store(
                directoryAddress | present | writable | user, at: GuestAddress(pdptAddress + directory * 8))
            for entry in 0..<UInt64(512) {
                let physical = (directory * 512 + entry) << 21
                try memory.store(
                    physical | present | writable | user | largePage, at: GuestAddress(directoryAddress + entry * 8))
            }
        }
    }

    /// The registers vCPU 0 starts with.
    static func initialRegisters(_ boot: RawCodeBoot, base: SpecialRegisters) -> (GeneralRegisters, SpecialRegisters) {
        var general = GeneralRegisters()
        general.rax = boot.registers.rax
        general.rbx = boot.registers.rbx
        general.rcx = boot.registers.rcx
        general.rdx = boot.registers.rdx
        general.rsi = boot.registers.rsi
        general.rdi = boot.registers.rdi
        general.rip = boot.loadAddress
        general.rsp = stackTop
        var special = base
        switch boot.mode {
        case .real16:
            general.rflags = 0x2
            let segment = SegmentRegister(base: 0, limit: 0xffff, selector: 0, type: 3)
            special.ds = segment
            special.es = segment
            special.fs = segment
            special.gs = segment
            special.ss = segment
            special.cs = SegmentRegister(base: 0, limit: 0xffff, selector: 0, type: 11)
        case .long64User:
            general.rflags = 0x3002  // IOPL 3: port I/O allowed at CPL 3
            special.cs = SegmentRegister(
                base: 0, limit: 0xffff_ffff, selector: 0x1b, type: 11, dpl: 3, db: false, l: true, g: true)
            let data = SegmentRegister(base: 0, limit: 0xffff_ffff, selector: 0x23, type: 3, dpl: 3, db: true, g: true)
            special.ds = data
            special.es = data
            special.fs = data
            special.gs = data
            special.ss = data
            special.cr3 = pml4Address
            special.cr4 = 1 << 5  // PAE
            special.cr0 = 0x8000_0011  // PG | ET | PE
            special.efer = 0x500  // LME | LMA
        }
        return (general, special)
    }
}
