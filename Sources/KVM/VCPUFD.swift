import CKVM

#if canImport(Glibc)
    import Glibc
#endif

/// A vCPU file descriptor with its shared `kvm_run` mapping.
///
/// `run()` and the register calls belong to the one thread that runs this vCPU;
/// `requestImmediateExit()` may be called from any thread.
///
/// `@_spi(ExitPath) public`, not `package`, like every type the vCPU exit path touches
/// (`VCPUExit`, `PortMap`, `AddressRangeMap`, `MachineRequest`, the bus devices): Swift inlines a
/// type's `@inlinable` members into another module only when the type itself is public — with
/// `package` types the exit loop made a call per step and ran ~180 user-space instructions per
/// exit instead of ~100 (callgrind). The SPI keeps them out of the public contract: only an
/// `@_spi(ExitPath) import` sees them, and nothing outside this package should write one.
@_spi(ExitPath) public final class VCPUFD: @unchecked Sendable {
    // SAFETY (@unchecked Sendable): the only state touched from other threads is
    // kvm_run.immediate_exit, which is written and read with atomic C accessors; everything
    // else is used by the vCPU's own thread (documented above).

    /// The vCPU index, which is also its APIC id.
    package let index: Int
    let descriptor: OwnedFileDescriptor
    /// The descriptor number, kept as a plain integer for the exit path (`descriptor` owns it).
    @usableFromInline let rawDescriptor: Int32
    @usableFromInline let runPointer: UnsafeMutablePointer<kvm_run>
    @usableFromInline let mappingSize: Int

    init(index: Int, descriptor: OwnedFileDescriptor, run: UnsafeMutableRawPointer, mappingSize: Int) {
        self.index = index
        self.descriptor = descriptor
        self.rawDescriptor = descriptor.rawValue
        // SAFETY: `run` is the start of a MAP_SHARED mapping of at least sizeof(kvm_run) bytes
        // (KVM_GET_VCPU_MMAP_SIZE ≥ one page), page aligned, unmapped only in deinit.
        self.runPointer = run.bindMemory(to: kvm_run.self, capacity: 1)
        self.mappingSize = mappingSize
    }

    deinit {
        munmap(UnsafeMutableRawPointer(runPointer), mappingSize)
    }

    // MARK: - Running
    //
    // The exit path (run, exit, completePortIn, completeMMIORead) is @inlinable so that the
    // VMM's vCPU loop compiles to straight-line code around the KVM_RUN ioctl, as a C loop does.

    /// Enters the guest. Returns 0 when KVM reported an exit (read it with `exit`), or the
    /// errno of a failed KVM_RUN (EINTR when kicked by a signal or `immediate_exit`).
    @inlinable @inline(__always)
    package func run() -> Int32 {
        ckvm_run(rawDescriptor)
    }

    /// The exit KVM_RUN reported last.
    @inlinable @inline(__always)
    package var exit: VCPUExit {
        VCPUExit.decode(run: runPointer, mappingSize: mappingSize)
    }

    /// Element `element` (0-based) of a `rep outs` exit's data, or nil past its end.
    package func portOutValue(element: Int) -> UInt32? {
        let size = Int(ckvm_run_io_size(runPointer))
        let count = Int(ckvm_run_io_count(runPointer))
        let offset = Int(truncatingIfNeeded: ckvm_run_io_data_offset(runPointer))
        guard element >= 0, element < count, size > 0, size <= 4, offset >= 0, offset <= mappingSize,
            element <= (mappingSize - offset) / size - 1
        else { return nil }
        // SAFETY: offset + (element + 1) * size ≤ mappingSize was checked above.
        return UInt32(
            truncatingIfNeeded: loadLittleEndian(UnsafeRawPointer(runPointer) + offset + element * size, size: size))
    }

    /// Answers element `element` of a port-in exit (`VCPUExit.portIn`) with `value`, truncated to
    /// `size` bytes at `dataOffset`; an answer that would not fit the mapping is dropped.
    @inlinable @inline(__always)
    package func completePortIn(dataOffset: Int, size: Int, element: Int = 0, value: UInt32) {
        let position = dataOffset &+ element &* size
        guard dataOffset >= 0, element >= 0, size > 0, size <= 4, position <= mappingSize &- size else { return }
        // SAFETY: position + size ≤ mappingSize was checked above.
        storeLittleEndian(UInt64(value), UnsafeMutableRawPointer(runPointer) + position, size: size)
    }

    /// Answers an MMIO read exit (`VCPUExit.mmioRead`) with the low `size` bytes of `value`.
    @inlinable @inline(__always)
    package func completeMMIORead(size: Int, value: UInt64) {
        // SAFETY: kvm_run.mmio.data is 8 bytes inside the mapping; size is clamped to 8.
        storeLittleEndian(
            value, UnsafeMutableRawPointer(runPointer) + Int(ckvm_run_mmio_data_offset()), size: min(8, max(0, size)))
    }

    /// Makes the current or next KVM_RUN return EINTR at once. Safe from any thread.
    package func requestImmediateExit() {
        ckvm_run_set_immediate_exit(runPointer, 1)
    }

    /// Clears the request made by `requestImmediateExit`.
    package func clearImmediateExit() {
        ckvm_run_set_immediate_exit(runPointer, 0)
    }

    /// Whether an immediate exit is pending.
    package var immediateExitRequested: Bool { ckvm_run_immediate_exit(runPointer) != 0 }

    // MARK: - State

    private func ioctlPointer<T>(_ name: String, _ request: UInt, _ argument: inout T) throws(KVMError) {
        let fd = descriptor.rawValue
        // SAFETY: `argument` is the kernel structure `request` reads or writes; inout keeps the
        // pointer valid for the duration of the call.
        let result = withUnsafeMutablePointer(to: &argument) { ckvm_ioctl_pointer(fd, request, $0) }
        if result < 0 { throw .ioctlFailed(name: name, errno: errno) }
    }

    /// Reads the general-purpose registers.
    package func generalRegisters() throws(KVMError) -> GeneralRegisters {
        var raw = kvm_regs()
        try ioctlPointer("KVM_GET_REGS", CKVM_GET_REGS, &raw)
        return GeneralRegisters(raw)
    }

    /// Writes the general-purpose registers.
    package func setGeneralRegisters(_ registers: GeneralRegisters) throws(KVMError) {
        var raw = registers.raw
        try ioctlPointer("KVM_SET_REGS", CKVM_SET_REGS, &raw)
    }

    /// Reads segments, control registers and EFER.
    package func specialRegisters() throws(KVMError) -> SpecialRegisters {
        var raw = kvm_sregs()
        try ioctlPointer("KVM_GET_SREGS", CKVM_GET_SREGS, &raw)
        return SpecialRegisters(raw)
    }

    /// Writes segments, control registers and EFER.
    package func setSpecialRegisters(_ registers: SpecialRegisters) throws(KVMError) {
        var raw = registers.raw
        try ioctlPointer("KVM_SET_SREGS", CKVM_SET_SREGS, &raw)
    }

    /// Both register sets, for error reports.
    package func registerDump() throws(KVMError) -> RegisterDump {
        RegisterDump(general: try generalRegisters(), special: try specialRegisters())
    }

    /// Sets the CPUID table this vCPU reports.
    package func setCPUID(_ entries: [CPUIDEntry]) throws(KVMError) {
        var buffer = CPUIDBuffer(entries: entries)
        let fd = descriptor.rawValue
        let result = buffer.withHeader { ckvm_ioctl_pointer(fd, CKVM_SET_CPUID2, $0) }
        if result < 0 { throw .ioctlFailed(name: "KVM_SET_CPUID2", errno: errno) }
    }

    /// The guest TSC frequency in kHz, or nil when KVM cannot tell.
    package func tscFrequencyKHz() -> UInt32? {
        let result = ckvm_ioctl_value(descriptor.rawValue, CKVM_GET_TSC_KHZ, 0)
        return result > 0 ? UInt32(result) : nil
    }

    /// Programs the local APIC's LINT0 as ExtINT (the PIC's output) and LINT1 as NMI, as a
    /// PC's firmware does. Needs the in-kernel irqchip.
    package func configureLocalInterruptPins() throws(KVMError) {
        var state = kvm_lapic_state()
        try ioctlPointer("KVM_GET_LAPIC", CKVM_GET_LAPIC, &state)
        withUnsafeMutableBytes(of: &state.regs) { registers in
            Self.setDeliveryMode(in: registers, offset: 0x350, mode: 0b111)  // LVT LINT0: ExtINT
            Self.setDeliveryMode(in: registers, offset: 0x360, mode: 0b100)  // LVT LINT1: NMI
        }
        try ioctlPointer("KVM_SET_LAPIC", CKVM_SET_LAPIC, &state)
    }

    /// Sets bits 8–10 (delivery mode) of the 32-bit LVT register at `offset`.
    static func setDeliveryMode(in registers: UnsafeMutableRawBufferPointer, offset: Int, mode: UInt32) {
        let current = registers.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
        registers.storeBytes(of: (current & ~0x700) | (mode << 8), toByteOffset: offset, as: UInt32.self)
    }
}
