import CKVM

/// Why `KVM_RUN` returned, decoded from `kvm_run` in exactly one place (`decode(run:size:)`).
///
/// Port and MMIO data stay in the shared `kvm_run` page: a write carries its value (read
/// once, here); a read is answered with `VCPUFD.completePortIn` / `completeMMIORead`.
/// SPI-public for cross-module inlining on the exit path (see `VCPUFD` in KVM).
@_spi(ExitPath) public enum VCPUExit: Sendable, Equatable {
    /// `in` from `port`: `size` bytes (1, 2 or 4) `count` times (count > 1 for `rep ins`).
    /// Answer it with `VCPUFD.completePortIn(dataOffset:size:element:value:)`; `dataOffset` is
    /// where in `kvm_run` the answer goes (validated against the mapping).
    case portIn(port: UInt16, size: Int, count: Int, dataOffset: Int)
    /// `out` to `port`. `value` is the first element; `count` > 1 for `rep outs` (see
    /// `VCPUFD.portOutValue(element:)` for the rest).
    case portOut(port: UInt16, size: Int, count: Int, value: UInt32)
    /// A read of `size` bytes (1–8) from `address`, which no memory slot backs.
    case mmioRead(address: UInt64, size: Int)
    /// A write of `size` bytes (1–8) of `value` to `address`.
    case mmioWrite(address: UInt64, size: Int, value: UInt64)
    /// The guest executed HLT (only reaches user space without the in-kernel irqchip).
    case halt
    /// Triple fault or an equivalent unrecoverable state.
    case shutdown
    /// A PSCI/ACPI-like system event KVM raised (shutdown, reset, crash).
    case systemEvent(SystemEvent)
    /// KVM could not emulate what the guest did.
    case internalError(suberror: UInt32, firstData: UInt64?)
    /// VM entry failed (hardware reason code).
    case failEntry(hardwareReason: UInt64, cpu: UInt32)
    /// An exception KVM reflected to user space.
    case exception(number: UInt32, errorCode: UInt32)
    /// KVM_RUN returned for a pending signal (KVM_EXIT_INTR).
    case interrupted
    /// An exit reason this VMM does not handle.
    case unhandled(reason: UInt32)
    /// KVM reported an exit whose data does not fit the `kvm_run` mapping.
    case malformed(reason: UInt32)

    /// A `KVM_EXIT_SYSTEM_EVENT` type.
    @_spi(ExitPath) public enum SystemEvent: Sendable, Equatable {
        case shutdown
        case reset
        case crash
        case other(type: UInt32)
    }

    /// Decodes the exit KVM left in `run`, a mapping of `mappingSize` bytes.
    @inlinable @inline(__always)
    static func decode(run: UnsafeMutablePointer<kvm_run>, mappingSize: Int) -> VCPUExit {
        let reason = ckvm_run_exit_reason(run)
        // Port and MMIO exits first, with plain comparisons: they are the hot ones.
        if reason == CKVM_EXIT_IO {
            let size = UInt64(ckvm_run_io_size(run))
            let count = UInt64(ckvm_run_io_count(run))
            let offset = ckvm_run_io_data_offset(run)
            let port = ckvm_run_io_port(run)
            // The data area must lie inside the mapping; KVM guarantees it, we check it anyway.
            // count < 2^32 and size ≤ 4, so count * size cannot overflow; no division here.
            guard size & (size &- 1) == 0, size &- 1 < 4, count >= 1, offset <= UInt64(mappingSize),
                count &* size <= UInt64(mappingSize) &- offset
            else { return .malformed(reason: reason) }
            if ckvm_run_io_direction(run) == CKVM_EXIT_IO_OUT {
                // SAFETY: offset + size ≤ mappingSize was checked above.
                let value = loadLittleEndian(UnsafeRawPointer(run) + Int(offset), size: Int(size))
                return .portOut(
                    port: port, size: Int(size), count: Int(count), value: UInt32(truncatingIfNeeded: value))
            }
            return .portIn(port: port, size: Int(size), count: Int(count), dataOffset: Int(offset))
        }
        if reason == CKVM_EXIT_MMIO {
            let size = Int(ckvm_run_mmio_len(run))
            guard size >= 1, size <= 8 else { return .malformed(reason: reason) }
            let address = ckvm_run_mmio_phys_addr(run)
            if ckvm_run_mmio_is_write(run) != 0 {
                // SAFETY: kvm_run.mmio.data is 8 bytes and size ≤ 8.
                let value = loadLittleEndian(UnsafeRawPointer(run) + Int(ckvm_run_mmio_data_offset()), size: size)
                return .mmioWrite(address: address, size: size, value: value)
            }
            return .mmioRead(address: address, size: size)
        }
        switch reason {
        case CKVM_EXIT_HLT:
            return .halt
        case CKVM_EXIT_SHUTDOWN:
            return .shutdown
        case CKVM_EXIT_SYSTEM_EVENT:
            switch ckvm_run_system_event_type(run) {
            case CKVM_SYSTEM_EVENT_SHUTDOWN: return .systemEvent(.shutdown)
            case CKVM_SYSTEM_EVENT_RESET: return .systemEvent(.reset)
            case CKVM_SYSTEM_EVENT_CRASH: return .systemEvent(.crash)
            case let other: return .systemEvent(.other(type: other))
            }
        case CKVM_EXIT_INTERNAL_ERROR:
            let count = ckvm_run_internal_ndata(run)
            return .internalError(
                suberror: ckvm_run_internal_suberror(run), firstData: count > 0 ? ckvm_run_internal_data(run, 0) : nil)
        case CKVM_EXIT_FAIL_ENTRY:
            return .failEntry(hardwareReason: ckvm_run_fail_entry_reason(run), cpu: ckvm_run_fail_entry_cpu(run))
        case CKVM_EXIT_EXCEPTION:
            return .exception(number: ckvm_run_exception_number(run), errorCode: ckvm_run_exception_error_code(run))
        case CKVM_EXIT_INTR:
            return .interrupted
        default:
            return .unhandled(reason: reason)
        }
    }
}

/// Reads `size` (1–8) bytes at `pointer` as a little-endian integer.
@inlinable @inline(__always)
func loadLittleEndian(_ pointer: UnsafeRawPointer, size: Int) -> UInt64 {
    switch size {
    case 1: return UInt64(pointer.load(as: UInt8.self))
    case 2: return UInt64(UInt16(littleEndian: pointer.loadUnaligned(as: UInt16.self)))
    case 4: return UInt64(UInt32(littleEndian: pointer.loadUnaligned(as: UInt32.self)))
    case 8: return UInt64(littleEndian: pointer.loadUnaligned(as: UInt64.self))
    default:
        var value: UInt64 = 0
        for byte in 0..<size { value |= UInt64(pointer.load(fromByteOffset: byte, as: UInt8.self)) << (8 * byte) }
        return value
    }
}

/// Writes the low `size` (1–8) bytes of `value` at `pointer`, little-endian.
@inlinable @inline(__always)
func storeLittleEndian(_ value: UInt64, _ pointer: UnsafeMutableRawPointer, size: Int) {
    switch size {
    case 1: pointer.storeBytes(of: UInt8(truncatingIfNeeded: value), as: UInt8.self)
    case 2: pointer.storeBytes(of: UInt16(truncatingIfNeeded: value).littleEndian, as: UInt16.self)
    case 4: pointer.storeBytes(of: UInt32(truncatingIfNeeded: value).littleEndian, as: UInt32.self)
    case 8: pointer.storeBytes(of: value.littleEndian, as: UInt64.self)
    default:
        for byte in 0..<size {
            pointer.storeBytes(of: UInt8(truncatingIfNeeded: value >> (8 * byte)), toByteOffset: byte, as: UInt8.self)
        }
    }
}
