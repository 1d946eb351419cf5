import CKVM

/// General-purpose registers of a vCPU (`struct kvm_regs`).
package struct GeneralRegisters: Sendable, Equatable {
    package var rax: UInt64 = 0, rbx: UInt64 = 0, rcx: UInt64 = 0, rdx: UInt64 = 0
    package var rsi: UInt64 = 0, rdi: UInt64 = 0, rsp: UInt64 = 0, rbp: UInt64 = 0
    package var r8: UInt64 = 0, r9: UInt64 = 0, r10: UInt64 = 0, r11: UInt64 = 0
    package var r12: UInt64 = 0, r13: UInt64 = 0, r14: UInt64 = 0, r15: UInt64 = 0
    package var rip: UInt64 = 0
    /// RFLAGS; bit 1 is reserved and always set.
    package var rflags: UInt64 = 0x2

    package init() {}

    init(_ raw: kvm_regs) {
        rax = raw.rax; rbx = raw.rbx; rcx = raw.rcx; rdx = raw.rdx
        rsi = raw.rsi; rdi = raw.rdi; rsp = raw.rsp; rbp = raw.rbp
        r8 = raw.r8; r9 = raw.r9; r10 = raw.r10; r11 = raw.r11
        r12 = raw.r12; r13 = raw.r13; r14 = raw.r14; r15 = raw.r15
        rip = raw.rip; rflags = raw.rflags
    }

    var raw: kvm_regs {
        kvm_regs(
            rax: rax, rbx: rbx, rcx: rcx, rdx: rdx, rsi: rsi, rdi: rdi, rsp: rsp, rbp: rbp,
            r8: r8, r9: r9, r10: r10, r11: r11, r12: r12, r13: r13, r14: r14, r15: r15,
            rip: rip, rflags: rflags)
    }
}

/// A segment register as KVM holds it: the selector plus its cached descriptor.
package struct SegmentRegister: Sendable, Equatable {
    package var base: UInt64 = 0
    package var limit: UInt32 = 0xffff
    package var selector: UInt16 = 0
    /// Descriptor type field (e.g. 11 = execute/read accessed code, 3 = read/write accessed data).
    package var type: UInt8 = 3
    package var present: Bool = true
    package var dpl: UInt8 = 0
    /// Default operation size (1 = 32-bit).
    package var db: Bool = false
    /// Code or data segment (as opposed to a system segment).
    package var s: Bool = true
    /// 64-bit code segment.
    package var l: Bool = false
    /// Granularity: limit in 4 KiB units.
    package var g: Bool = false
    package var unusable: Bool = false

    package init(
        base: UInt64 = 0, limit: UInt32 = 0xffff, selector: UInt16 = 0, type: UInt8 = 3, present: Bool = true,
        dpl: UInt8 = 0, db: Bool = false, s: Bool = true, l: Bool = false, g: Bool = false
    ) {
        self.base = base
        self.limit = limit
        self.selector = selector
        self.type = type
        self.present = present
        self.dpl = dpl
        self.db = db
        self.s = s
        self.l = l
        self.g = g
    }

    init(_ raw: kvm_segment) {
        base = raw.base; limit = raw.limit; selector = raw.selector; type = raw.type
        present = raw.present != 0; dpl = raw.dpl; db = raw.db != 0; s = raw.s != 0
        l = raw.l != 0; g = raw.g != 0; unusable = raw.unusable != 0
    }

    var raw: kvm_segment {
        kvm_segment(
            base: base, limit: limit, selector: selector, type: type, present: present ? 1 : 0, dpl: dpl,
            db: db ? 1 : 0, s: s ? 1 : 0, l: l ? 1 : 0, g: g ? 1 : 0, avl: 0, unusable: unusable ? 1 : 0,
            padding: 0)
    }
}

/// A descriptor-table register (GDTR or IDTR).
package struct DescriptorTableRegister: Sendable, Equatable {
    package var base: UInt64 = 0
    package var limit: UInt16 = 0
    package init(base: UInt64 = 0, limit: UInt16 = 0) {
        self.base = base
        self.limit = limit
    }
}

/// Special registers of a vCPU (`struct kvm_sregs`): segments, control registers, EFER.
package struct SpecialRegisters: Sendable, Equatable {
    package var cs = SegmentRegister(), ds = SegmentRegister(), es = SegmentRegister()
    package var fs = SegmentRegister(), gs = SegmentRegister(), ss = SegmentRegister()
    package var tr = SegmentRegister(), ldt = SegmentRegister()
    package var gdt = DescriptorTableRegister(), idt = DescriptorTableRegister()
    package var cr0: UInt64 = 0, cr2: UInt64 = 0, cr3: UInt64 = 0, cr4: UInt64 = 0, cr8: UInt64 = 0
    package var efer: UInt64 = 0
    package var apicBase: UInt64 = 0
    /// The pending-interrupt bitmap; kept as KVM returned it.
    var interruptBitmap: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    init(_ raw: kvm_sregs) {
        cs = .init(raw.cs); ds = .init(raw.ds); es = .init(raw.es); fs = .init(raw.fs)
        gs = .init(raw.gs); ss = .init(raw.ss); tr = .init(raw.tr); ldt = .init(raw.ldt)
        gdt = .init(base: raw.gdt.base, limit: raw.gdt.limit)
        idt = .init(base: raw.idt.base, limit: raw.idt.limit)
        cr0 = raw.cr0; cr2 = raw.cr2; cr3 = raw.cr3; cr4 = raw.cr4; cr8 = raw.cr8
        efer = raw.efer; apicBase = raw.apic_base
        interruptBitmap = raw.interrupt_bitmap
    }

    var raw: kvm_sregs {
        var result = kvm_sregs()
        result.cs = cs.raw; result.ds = ds.raw; result.es = es.raw; result.fs = fs.raw
        result.gs = gs.raw; result.ss = ss.raw; result.tr = tr.raw; result.ldt = ldt.raw
        result.gdt = kvm_dtable(base: gdt.base, limit: gdt.limit, padding: (0, 0, 0))
        result.idt = kvm_dtable(base: idt.base, limit: idt.limit, padding: (0, 0, 0))
        result.cr0 = cr0; result.cr2 = cr2; result.cr3 = cr3; result.cr4 = cr4; result.cr8 = cr8
        result.efer = efer; result.apic_base = apicBase
        result.interrupt_bitmap = interruptBitmap
        return result
    }

    package static func == (lhs: SpecialRegisters, rhs: SpecialRegisters) -> Bool {
        lhs.cs == rhs.cs && lhs.ds == rhs.ds && lhs.es == rhs.es && lhs.fs == rhs.fs && lhs.gs == rhs.gs
            && lhs.ss == rhs.ss && lhs.tr == rhs.tr && lhs.ldt == rhs.ldt && lhs.gdt == rhs.gdt
            && lhs.idt == rhs.idt && lhs.cr0 == rhs.cr0 && lhs.cr2 == rhs.cr2 && lhs.cr3 == rhs.cr3
            && lhs.cr4 == rhs.cr4 && lhs.cr8 == rhs.cr8 && lhs.efer == rhs.efer && lhs.apicBase == rhs.apicBase
    }
}

/// A snapshot of a vCPU's registers for error reports (triple fault, internal error).
package struct RegisterDump: Sendable, Equatable, CustomStringConvertible {
    package var general: GeneralRegisters
    package var special: SpecialRegisters

    package init(general: GeneralRegisters, special: SpecialRegisters) {
        self.general = general
        self.special = special
    }

    package var description: String {
        func hex(_ value: UInt64) -> String {
            let digits = String(value, radix: 16)
            return "0x" + String(repeating: "0", count: max(0, 16 - digits.count)) + digits
        }
        let g = general
        let s = special
        return """
            rip=\(hex(g.rip)) rflags=\(hex(g.rflags)) rsp=\(hex(g.rsp)) rbp=\(hex(g.rbp))
            rax=\(hex(g.rax)) rbx=\(hex(g.rbx)) rcx=\(hex(g.rcx)) rdx=\(hex(g.rdx))
            rsi=\(hex(g.rsi)) rdi=\(hex(g.rdi)) r8=\(hex(g.r8)) r9=\(hex(g.r9))
            r10=\(hex(g.r10)) r11=\(hex(g.r11)) r12=\(hex(g.r12)) r13=\(hex(g.r13))
            r14=\(hex(g.r14)) r15=\(hex(g.r15))
            cs=\(String(s.cs.selector, radix: 16)) (base \(hex(s.cs.base)) dpl \(s.cs.dpl) l \(s.cs.l ? 1 : 0)) \
            ss=\(String(s.ss.selector, radix: 16)) ds=\(String(s.ds.selector, radix: 16)) \
            tr=\(String(s.tr.selector, radix: 16))
            cr0=\(hex(s.cr0)) cr2=\(hex(s.cr2)) cr3=\(hex(s.cr3)) cr4=\(hex(s.cr4)) efer=\(hex(s.efer))
            gdt=\(hex(s.gdt.base))/\(s.gdt.limit) idt=\(hex(s.idt.base))/\(s.idt.limit)
            """
    }
}
