// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "SwiftVMM",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "VMM", targets: ["VMM"]),
        // The virtio core on its own, for the fuzz package (Fuzz/).
        .library(name: "VirtioCore", targets: ["Virtio", "GuestMemory", "EventLoop"]),
        .executable(name: "swiftvmm", targets: ["swiftvmm"]),
        // The launcher's pod network (for the fuzz package's DHCP target, and for embedders that
        // run their own pod entrypoint).
        .library(name: "PodNetwork", targets: ["PodNetwork"]),
        // Firecracker's API on the public API (for embedders that serve it from their own
        // process, and for the fuzz package's target).
        .library(name: "FirecrackerAPI", targets: ["FirecrackerAPI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
        // `swift package generate-documentation --target VMM` (the DocC catalog in Sources/VMM).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // The HTTP endpoint (/healthz, /readyz, /metrics); its default traits (full Foundation,
        // swift-configuration) are left off.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // NIOHTTPTypes (the endpoint's connection guard works on HTTP types), already in
        // Hummingbird's tree.
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C: <linux/kvm.h> constants, ioctl shims and kvm_run accessors. Nothing else.
        .target(name: "CKVM"),
        // Owning Swift wrappers around /dev/kvm, VM and vCPU file descriptors.
        .target(name: "KVM", dependencies: ["CKVM"]),
        // C: the kick signal's handler, SIGRTMIN, thread names.
        .target(name: "CThreads"),
        // OS threads for vCPU loops and other blocking work, and the kick signal.
        .target(name: "Threads", dependencies: ["CThreads"]),
        // C: memfd_create (huge-page flags) and MADV_POPULATE_WRITE, which Glibc lacks.
        .target(name: "CGuestMemory"),
        // Guest physical memory: regions (anonymous, memfd, 2 MiB huge pages), bounds-checked access.
        .target(
            name: "GuestMemory",
            dependencies: ["CGuestMemory", .product(name: "Atomics", package: "swift-atomics")]),
        // C: eventfd / epoll / timerfd headers Swift's Glibc module lacks.
        .target(name: "CEventLoop"),
        // eventfd (and, later, epoll and timerfd) with owning wrappers.
        .target(name: "EventLoop", dependencies: ["CEventLoop"]),
        // Split virtqueues, the VirtioDevice protocol, the virtio-mmio transport.
        .target(name: "Virtio", dependencies: ["GuestMemory", "EventLoop"]),
        // A driver-side virtqueue mock for device tests.
        .target(
            name: "VirtioTestSupport", dependencies: ["Virtio", "GuestMemory", "EventLoop"],
            path: "Tests/VirtioTestSupport"),
        // What every test target shares: the KVM gate, the tags (kvm, nested, podman, slow) and the
        // polling wait.
        .target(name: "TestSupport", dependencies: ["VMM"], path: "Tests/TestSupport"),
        // C: OFD locks, fallocate modes, block-device size, O_DIRECT (Glibc lacks them).
        .target(name: "CHostIO"),
        // C: io_uring through liburing (Debian liburing-dev), for the asynchronous block engine.
        .target(name: "CIOUring", linkerSettings: [.linkedLibrary("uring")]),
        // Device models and the address-range bus. Never imports KVM.
        .target(
            name: "Devices", dependencies: ["GuestMemory", "EventLoop", "Virtio", "CHostIO", "CIOUring", "Threads"]),
        // Boot loaders (PVH ELF, later bzImage): pure plans of bytes and entry state.
        .target(name: "Boot", dependencies: ["GuestMemory"]),
        // The test firmware, built by gcc/ld through the plugin and embedded as base64.
        .target(name: "EmbeddedFirmware", plugins: ["EmbedFirmware"]),
        .plugin(name: "EmbedFirmware", capability: .buildTool()),
        // ACPI tables (RSDP, XSDT, FADT, MADT, DSDT) and an AML encoder: pure functions returning bytes.
        .target(name: "ACPI"),
        // C: tun/tap and interface ioctls.
        .target(name: "CHostNetwork"),
        // Host networking: tap devices (VMM uses them for virtio-net).
        .target(name: "HostNetwork", dependencies: ["CHostNetwork"]),
        // C: libseccomp (Debian libseccomp-dev) and capability system calls.
        .target(name: "CSeccomp", linkerSettings: [.linkedLibrary("seccomp")]),
        // seccomp allow-lists per thread and capability dropping.
        .target(name: "Sandbox", dependencies: ["CSeccomp"]),
        // Strict JSON decoding for the configuration types of every target: a table per type that
        // declares each key once (unknown keys rejected, errors naming the key path). No dependencies.
        .target(name: "StrictCoding"),
        // Public configuration, validation, layout, Machine. The only library target importing KVM.
        .target(
            name: "VMM",
            dependencies: [
                "KVM", "GuestMemory", "Devices", "EventLoop", "Boot", "EmbeddedFirmware", "Virtio", "HostNetwork",
                "ACPI", "Sandbox", "Threads", "StrictCoding",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // C: libnftables (dlopen'ed) and the DHCP server's socket.
        .target(name: "CPodNetwork"),
        // The masquerade binding in the pod's network namespace: tap, nftables, DHCPv4 server.
        .target(name: "PodNetwork", dependencies: ["HostNetwork", "CPodNetwork", "Threads", "StrictCoding"]),
        // The pod's eyes, on the public API: metrics read from the machine's counters at scrape
        // time (a swift-prometheus registry, every family with its HELP text), the HTTP endpoint,
        // readiness rules, the probe.
        .target(
            name: "Observability",
            dependencies: [
                "VMM",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // `swiftvmm serve`: Firecracker's REST API (swagger v1.x) over a unix socket, on the public
        // API, so that Firecracker's clients and SDKs drive SwiftVMM unchanged.
        .target(
            name: "FirecrackerAPI",
            dependencies: [
                "VMM", "Observability", "StrictCoding",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // C: the commands' SIGTERM/SIGINT waiter thread (sigwait).
        .target(name: "CSignalWaiter"),
        // `run`, `launch` and `serve` as ordered pipelines of steps with undo, on the public API:
        // the boot loop, the stop signals, the pod's configuration, environment, cgroup limits,
        // network step, console lines and JSON logs. Unit-tested with fakes (no /dev/kvm).
        .target(
            name: "Launcher",
            dependencies: [
                "VMM", "PodNetwork", "Observability", "FirecrackerAPI", "StrictCoding", "CSignalWaiter",
                .product(name: "Logging", package: "swift-log"),
            ]),
        // The executable: argument parsing only; the commands run in Launcher.
        .executableTarget(
            name: "swiftvmm",
            dependencies: [
                "VMM", "Launcher", "FirecrackerAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "CKVMTests", dependencies: ["CKVM"]),
        .testTarget(name: "KVMTests", dependencies: ["KVM", "CKVM"]),
        .testTarget(name: "ThreadsTests", dependencies: ["Threads"]),
        .testTarget(name: "GuestMemoryTests", dependencies: ["GuestMemory"]),
        .testTarget(name: "EventLoopTests", dependencies: ["EventLoop"]),
        .testTarget(name: "ACPITests", dependencies: ["ACPI"]),
        .testTarget(name: "StrictCodingTests", dependencies: ["StrictCoding"]),
        .testTarget(name: "HostNetworkTests", dependencies: ["HostNetwork", "CHostNetwork"]),
        .testTarget(name: "BootTests", dependencies: ["Boot", "GuestMemory"]),
        .testTarget(name: "VirtioTests", dependencies: ["Virtio", "VirtioTestSupport", "GuestMemory", "EventLoop"]),
        .testTarget(
            name: "DevicesTests",
            dependencies: [
                "Devices", "GuestMemory", "EventLoop", "Virtio", "VirtioTestSupport", "Threads", "TestSupport",
            ]),
        .testTarget(
            name: "VMMTests",
            dependencies: ["VMM", "KVM", "Devices", "GuestMemory", "Sandbox", "CSeccomp", "TestSupport"]),
        .testTarget(name: "SwiftVMMEndToEndTests", dependencies: ["VMM", "EmbeddedFirmware", "TestSupport"]),
        .testTarget(
            name: "LauncherTests",
            dependencies: ["Launcher", "VMM", "PodNetwork", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "PodNetworkTests", dependencies: ["PodNetwork"]),
        .testTarget(
            name: "ObservabilityTests",
            dependencies: ["Observability", "VMM", "TestSupport", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "FirecrackerAPITests", dependencies: ["FirecrackerAPI", "VMM", "EmbeddedFirmware", "TestSupport"]),
        // The library as embedders see it: only `import VMM` (and swift-log, and TestSupport, which
        // uses the public API only), no @testable.
        .testTarget(
            name: "SwiftVMMLibraryTests",
            dependencies: ["VMM", "TestSupport", .product(name: "Logging", package: "swift-log")]),
    ],
    swiftLanguageModes: [.v6]
)
