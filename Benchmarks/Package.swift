// swift-tools-version: 6.1
import PackageDescription

/// The exit-loop benchmark: SwiftVMM's real vCPU loop and bus next to a plain C KVM_RUN loop
/// with the same VM set-up. A package of its own, so the main package never builds it.
let package = Package(
    name: "SwiftVMMBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "SwiftVMM", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The guest programs (bytes, registers, addresses) both loops run: the one source of truth.
        .target(name: "ExitLoopGuests"),
        // C: the plain KVM_RUN loop with SwiftVMM's raw-code VM set-up.
        .target(name: "CExitLoop"),
        // One measurement through SwiftVMM or through the C loop, checked against N.
        .target(
            name: "ExitLoopMeasurement",
            dependencies: ["ExitLoopGuests", "CExitLoop", .product(name: "VMM", package: "SwiftVMM")]
        ),
        // Interleaved A/B timing table, and `--single` runs for callgrind.
        .executableTarget(name: "exit-loop-compare", dependencies: ["ExitLoopMeasurement", "ExitLoopGuests"]),
        // package-benchmark: allocations of SwiftVMM's loop per exit kind and N.
        .executableTarget(
            name: "ExitLoop",
            dependencies: [
                "ExitLoopMeasurement", "ExitLoopGuests",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/ExitLoop",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
