import CKVM

@_spi(ExitPath) @testable import KVM

/// `VCPUExit.decode` over arbitrary kvm_run bytes and mapping sizes: whatever KVM (or memory
/// corruption) leaves there decodes into an exit or `.malformed`, never a read outside the
/// mapping (AddressSanitizer watches the buffer's bounds).
enum ExitDecodeFuzz {
    static func run(_ input: inout FuzzInput) {
        guard let sizeByte = input.u16() else { return }
        let mappingSize = max(MemoryLayout<kvm_run>.size, Int(sizeByte % 0x3000))
        var bytes = input.rest()
        bytes += [UInt8](repeating: 0, count: max(0, mappingSize - bytes.count))
        bytes.removeLast(bytes.count - mappingSize)
        bytes.withUnsafeMutableBytes { buffer in
            // SAFETY: the buffer holds `mappingSize` bytes, at least one kvm_run, for the call.
            let run = buffer.baseAddress!.bindMemory(to: kvm_run.self, capacity: 1)
            _ = VCPUExit.decode(run: run, mappingSize: mappingSize)
        }
    }
}
