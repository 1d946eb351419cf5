// swift-tools-version: 6.1
// An embedder of SwiftVMM, as a separate package would be: it depends on the library by path
// and uses only `import VMM`. Built by CI (scripts/test.sh); run it with `swift run` here.
import PackageDescription

let package = Package(
    name: "ConsoleMarker",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "SwiftVMM", path: "../.."),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "ConsoleMarker",
            dependencies: [
                .product(name: "VMM", package: "SwiftVMM"),
                .product(name: "Logging", package: "swift-log"),
            ]
        )
    ],
    swiftLanguageModes: [.v6]
)
