import CExitLoop
import ExitLoopGuests

/// Runs an `ExitLoopGuest` through the plain C loop (CExitLoop), with the same layout.
public enum CExitLoopRunner {
    /// Builds a fresh VM, runs `guest`, checks every count (including the ioeventfd counters)
    /// and returns the loop time.
    public static func measure(_ guest: ExitLoopGuest) throws(ExitLoopError) -> ExitLoopMeasurement {
        var result = cexitloop_result()
        let status = guest.code.withUnsafeBufferPointer { code in
            var setup = cexitloop_setup()
            setup.mode = guest.mode == .long64User ? CEXITLOOP_MODE_LONG64_USER : CEXITLOOP_MODE_REAL16
            setup.code = code.baseAddress
            setup.code_length = code.count
            setup.load_address = ExitLoopLayout.loadAddress
            setup.memory_bytes = ExitLoopLayout.memoryBytes
            setup.tss_address = ExitLoopLayout.tssAddress
            setup.identity_map_address = ExitLoopLayout.identityMapAddress
            setup.rbx = guest.rbx
            setup.rcx = guest.rcx
            setup.rdx = guest.rdx
            setup.read_value = ExitLoopLayout.readValue
            setup.end_port = ExitLoopLayout.debugExitPort
            setup.in_kernel_port = ExitLoopLayout.inKernelPort
            setup.in_kernel_mmio_address = ExitLoopLayout.inKernelMMIOAddress
            setup.in_kernel_length = UInt32(ExitLoopLayout.accessBytes)
            // SAFETY: `setup.code` points into `code`, valid for this closure; cexitloop_run
            // copies the bytes into guest memory and keeps no pointer after it returns.
            return cexitloop_run(&setup, &result)
        }
        // SAFETY: `result.error` is a fixed-size C array inside `result`; the bytes are only read
        // within the closure, up to its first NUL (cexitloop_run always NUL-terminates it).
        let errorText = withUnsafeBytes(of: result.error) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        switch Int(status) {
        case CEXITLOOP_OK: break
        case CEXITLOOP_UNEXPECTED_EXIT: throw .unexpectedEnd(implementation: .c, guest: guest.label, end: errorText)
        default: throw .setupFailed(implementation: .c, reason: errorText)
        }
        guard result.end_status == UInt32(ExitLoopLayout.finishedStatus) else {
            throw .unexpectedEnd(implementation: .c, guest: guest.label, end: "status \(result.end_status)")
        }
        let observed = ExpectedExits(
            portOut: result.port_out, portIn: result.port_in, mmioWrite: result.mmio_write, mmioRead: result.mmio_read,
            inKernelPortWrites: result.in_kernel_port_writes, inKernelMMIOWrites: result.in_kernel_mmio_writes)
        guard observed == guest.expectedExits, result.interrupted == 0 else {
            throw .wrongCounts(
                implementation: .c, guest: guest.label, expected: "\(guest.expectedExits), 0 interrupted",
                observed: "\(observed), \(result.interrupted) interrupted")
        }
        return ExitLoopMeasurement(implementation: .c, guest: guest, loopNanoseconds: result.loop_nanoseconds)
    }
}
