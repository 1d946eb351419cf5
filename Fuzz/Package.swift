// swift-tools-version: 6.1
// SwiftVMM's fuzz targets, a separate package so that the main build never compiles them with
// the fuzzer. Build and run with Fuzz/run-fuzz.sh (libFuzzer + AddressSanitizer; the main
// package's modules are compiled with -enable-testing so that the targets reach internal API).
import PackageDescription

let package = Package(
    name: "SwiftVMMFuzz",
    dependencies: [.package(name: "SwiftVMM", path: "..")],
    targets: [
        .target(name: "CFuzzerDriver"),
        .executableTarget(
            name: "SwiftVMMFuzzer",
            dependencies: [
                "CFuzzerDriver",
                .product(name: "VirtioCore", package: "SwiftVMM"),
                .product(name: "VMM", package: "SwiftVMM"),
                .product(name: "PodNetwork", package: "SwiftVMM"),
                .product(name: "FirecrackerAPI", package: "SwiftVMM"),
            ],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ],
    swiftLanguageModes: [.v6]
)
