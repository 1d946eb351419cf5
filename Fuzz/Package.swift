// swift-tools-version: 6.1
// The virtio fuzz target, a separate package so that the main build never compiles it with the
// fuzzer. Build and run with Fuzz/run-fuzz.sh.
import PackageDescription

let package = Package(
    name: "SwiftVMMFuzz",
    dependencies: [.package(name: "SwiftVMM", path: "..")],
    targets: [
        .target(name: "CFuzzerDriver"),
        .executableTarget(
            name: "VirtioFuzzer",
            dependencies: ["CFuzzerDriver", .product(name: "VirtioCore", package: "SwiftVMM")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ],
    swiftLanguageModes: [.v6]
)
