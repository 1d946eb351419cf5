import CFuzzerDriver

#if canImport(Glibc)
    import Glibc
#endif

/// The fuzz targets; `FUZZ_TARGET=NAME` picks one (run-fuzz.sh sets it).
enum FuzzTarget: String, CaseIterable {
    case transport, blk, blkaio, net, rng, legacy, exits, pvh, bzimage, config, threads, dhcp, firecracker

    func run(_ bytes: [UInt8]) {
        var input = FuzzInput(bytes)
        switch self {
        case .transport: DeviceScript.run(&input, device: .echo)
        case .blk: DeviceScript.run(&input, device: .block)
        case .blkaio: DeviceScript.run(&input, device: .asyncBlock)
        case .net: DeviceScript.run(&input, device: .network)
        case .rng: DeviceScript.run(&input, device: .entropy)
        case .legacy: LegacyPortsFuzz.run(&input)
        case .exits: ExitDecodeFuzz.run(&input)
        case .pvh: LoaderFuzz.runPVH(bytes)
        case .bzimage: LoaderFuzz.runBzImage(bytes)
        case .config: ConfigurationFuzz.run(bytes)
        case .threads: ThreadedTransportFuzz.run(&input)
        case .dhcp: DHCPFuzz.run(bytes)
        case .firecracker: FirecrackerAPIFuzz.run(bytes)
        }
    }
}

nonisolated(unsafe) private var selectedTarget = FuzzTarget.transport

/// libFuzzer's per-input callback.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    // SAFETY: libFuzzer passes `size` readable bytes at `data` for the duration of the call.
    selectedTarget.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// The executable's entry: SwiftPM links an executable target's `main` to this symbol, so it
/// hands control to libFuzzer's driver (instead of libFuzzer's own `main`).
@_cdecl("SwiftVMMFuzzer_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    let name = getenv("FUZZ_TARGET").map { String(cString: $0) } ?? "transport"
    guard let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        let message = "FUZZ_TARGET: '\(name)' is not a target; expected one of \(names)\n"
        _ = message.withCString { write(2, $0, strlen($0)) }
        return 2
    }
    selectedTarget = target
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzOneInput(data, size) }
}
