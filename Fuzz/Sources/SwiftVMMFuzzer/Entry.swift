import CFuzzerDriver

/// libFuzzer's per-input callback: one input, one fresh guest memory, transport and device.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVirtio(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    // SAFETY: libFuzzer passes `size` readable bytes at `data` for the duration of the call.
    var script = FuzzScript(Array(UnsafeBufferPointer(start: data, count: size)))
    try? script.run()
    return 0
}

/// The executable's entry: SwiftPM links an executable target's `main` to this symbol, so it
/// hands control to libFuzzer's driver (instead of libFuzzer's own `main`).
@_cdecl("VirtioFuzzer_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzVirtio(data, size) }
}
