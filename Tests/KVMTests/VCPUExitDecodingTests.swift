import CKVM
import Testing

@_spi(ExitPath) @testable import KVM

/// A zeroed, page-aligned buffer shaped like a vCPU's kvm_run mapping, for synthetic exits.
private final class SyntheticRun {
    let size = 3 * 4096
    let raw: UnsafeMutableRawPointer
    var run: UnsafeMutablePointer<kvm_run> { raw.assumingMemoryBound(to: kvm_run.self) }

    init() {
        // SAFETY: a fresh page-aligned allocation of `size` bytes, zeroed, freed in deinit.
        raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        _ = raw.bindMemory(to: kvm_run.self, capacity: 1)
    }

    deinit { raw.deallocate() }

    var exit: VCPUExit { VCPUExit.decode(run: run, mappingSize: size) }

    func setIO(out: Bool, size: UInt8, port: UInt16, count: UInt32, offset: UInt64, bytes: [UInt8]) {
        ckvm_run_set_exit_reason(run, CKVM_EXIT_IO)
        ckvm_run_set_io(run, out ? CKVM_EXIT_IO_OUT : CKVM_EXIT_IO_IN, size, port, count, offset)
        for (index, byte) in bytes.enumerated() {
            raw.storeBytes(of: byte, toByteOffset: Int(offset) + index, as: UInt8.self)
        }
    }

    func setMMIO(address: UInt64, length: UInt32, write: Bool, bytes: [UInt8]) {
        ckvm_run_set_exit_reason(run, CKVM_EXIT_MMIO)
        ckvm_run_set_mmio(run, address, length, write ? 1 : 0)
        let offset = Int(ckvm_run_mmio_data_offset())
        for (index, byte) in bytes.enumerated() {
            raw.storeBytes(of: byte, toByteOffset: offset + index, as: UInt8.self)
        }
    }
}

@Suite struct VCPUExitDecodingTests {
    @Test(arguments: [(UInt8(1), UInt32(0xab)), (2, 0xbeef), (4, 0xdead_beef)])
    func portOutCarriesPortSizeAndValue(size: UInt8, value: UInt32) {
        let fake = SyntheticRun()
        let bytes = (0..<Int(size)).map { UInt8((value >> (8 * $0)) & 0xff) }
        fake.setIO(out: true, size: size, port: 0x3f8, count: 1, offset: 4096, bytes: bytes)
        #expect(fake.exit == .portOut(port: 0x3f8, size: Int(size), count: 1, value: value))
    }

    @Test func portInIsDecodedAndAnsweredInPlace() {
        let fake = SyntheticRun()
        fake.setIO(out: false, size: 2, port: 0x60, count: 1, offset: 4096, bytes: [])
        #expect(fake.exit == .portIn(port: 0x60, size: 2, count: 1, dataOffset: 4096))
    }

    @Test func portDataOutsideTheMappingIsMalformed() {
        let fake = SyntheticRun()
        fake.setIO(out: true, size: 4, port: 0x80, count: 3, offset: UInt64(fake.size - 8), bytes: [])
        #expect(fake.exit == .malformed(reason: CKVM_EXIT_IO))
        fake.setIO(out: true, size: 3, port: 0x80, count: 1, offset: 4096, bytes: [])
        #expect(fake.exit == .malformed(reason: CKVM_EXIT_IO), "size 3 is not a port access size")
        fake.setIO(out: true, size: 1, port: 0x80, count: 1, offset: UInt64.max, bytes: [])
        #expect(fake.exit == .malformed(reason: CKVM_EXIT_IO))
    }

    @Test(arguments: [1, 2, 4, 8])
    func mmioWriteCarriesLittleEndianValueOfEveryWidth(width: Int) {
        let fake = SyntheticRun()
        let bytes: [UInt8] = [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]
        fake.setMMIO(address: 0xd000_0010, length: UInt32(width), write: true, bytes: bytes)
        let expected = UInt64(0x1122_3344_5566_7788) & (width == 8 ? .max : (UInt64(1) << (8 * width)) - 1)
        #expect(fake.exit == .mmioWrite(address: 0xd000_0010, size: width, value: expected))
    }

    @Test func mmioReadAndBadLengths() {
        let fake = SyntheticRun()
        fake.setMMIO(address: 0xfee0_0030, length: 4, write: false, bytes: [])
        #expect(fake.exit == .mmioRead(address: 0xfee0_0030, size: 4))
        fake.setMMIO(address: 0x1000, length: 0, write: false, bytes: [])
        #expect(fake.exit == .malformed(reason: CKVM_EXIT_MMIO))
        fake.setMMIO(address: 0x1000, length: 9, write: true, bytes: [])
        #expect(fake.exit == .malformed(reason: CKVM_EXIT_MMIO))
    }

    @Test func terminalExitsAreDecoded() {
        let fake = SyntheticRun()
        ckvm_run_set_exit_reason(fake.run, CKVM_EXIT_HLT)
        #expect(fake.exit == .halt)
        ckvm_run_set_exit_reason(fake.run, CKVM_EXIT_SHUTDOWN)
        #expect(fake.exit == .shutdown)
        ckvm_run_set_exit_reason(fake.run, CKVM_EXIT_INTR)
        #expect(fake.exit == .interrupted)
        ckvm_run_set_exit_reason(fake.run, CKVM_EXIT_SYSTEM_EVENT)
        ckvm_run_set_system_event(fake.run, CKVM_SYSTEM_EVENT_RESET, 0, 0)
        #expect(fake.exit == .systemEvent(.reset))
        ckvm_run_set_system_event(fake.run, CKVM_SYSTEM_EVENT_SHUTDOWN, 0, 0)
        #expect(fake.exit == .systemEvent(.shutdown))
        ckvm_run_set_system_event(fake.run, 77, 0, 0)
        #expect(fake.exit == .systemEvent(.other(type: 77)))
        ckvm_run_set_exit_reason(fake.run, CKVM_EXIT_INTERNAL_ERROR)
        ckvm_run_set_internal(fake.run, 1, 1, 0xf00)
        #expect(fake.exit == .internalError(suberror: 1, firstData: 0xf00))
        ckvm_run_set_internal(fake.run, 3, 0, 0)
        #expect(fake.exit == .internalError(suberror: 3, firstData: nil))
        ckvm_run_set_exit_reason(fake.run, CKVM_EXIT_FAIL_ENTRY)
        ckvm_run_set_fail_entry(fake.run, 0x21, 1)
        #expect(fake.exit == .failEntry(hardwareReason: 0x21, cpu: 1))
        ckvm_run_set_exit_reason(fake.run, 9999)
        #expect(fake.exit == .unhandled(reason: 9999))
    }

    @Test func lapicDeliveryModeEditKeepsOtherBits() {
        var registers = [UInt8](repeating: 0, count: 1024)
        registers.withUnsafeMutableBytes { bytes in
            bytes.storeBytes(of: UInt32(0x0001_0700), toByteOffset: 0x350, as: UInt32.self)
            VCPUFD.setDeliveryMode(in: bytes, offset: 0x350, mode: 0b100)
            #expect(bytes.load(fromByteOffset: 0x350, as: UInt32.self) == 0x0001_0400)
        }
    }
}
