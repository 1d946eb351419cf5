import Foundation
import Testing

/// `swiftvmm launch` as a Kubernetes pod's entrypoint, played with rootful podman
/// (`podman kube play deploy/pod.yaml`) by deploy/podman-e2e.sh: the image, the console and the
/// DHCP lease on `podman logs`, ping and UDP from the host through the pod's IP and the hostPort
/// (counted by the guest), the disk on the emptyDir volume, the exit codes of a power-off (0), a
/// forced stop (7), a bad vm.json (10) and a pod without /dev/kvm (2), and the boot-time and
/// memory figures. scripts/test.sh sets the host up (scripts/podman-host.sh) and builds the
/// static swiftvmm the image holds.
@Suite(
    .tags(.podman, .slow),
    .serialized,
    .enabled(
        if: networkTestsPossible,
        "SKIPPED: needs /dev/kvm, /dev/net/tun and root (rootful podman, the pod's tap and nftables)"))
struct PodmanTests {
    /// The static-stdlib swiftvmm that scripts/build-static-swiftvmm.sh builds (the nested
    /// harness's, which scripts/test.sh builds): the image holds no Swift runtime of its own.
    private var staticBinary: String {
        let cache =
            ProcessInfo.processInfo.environment["SWIFTVMM_CACHE"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/swiftvmm").path
        return cache + "/nested-build/release/swiftvmm"
    }

    private var repository: URL { SwiftVMMBinary.repositoryRoot }

    @Test func theLauncherRunsTheVMAsAPodUnderPodman() throws {
        // scripts/podman-host.sh installs these; missing, the test fails and names the package.
        _ = try HostTool.require("podman", package: "podman")
        _ = try HostTool.ping
        _ = try HostTool.python3
        let bash = try HostTool.require("bash", package: "bash")
        if !FileManager.default.isExecutableFile(atPath: staticBinary) {
            // It takes /tmp/swiftvmm-build.lock itself (swift test holds no lock).
            let build = try RunningProcess(
                executable: URL(fileURLWithPath: bash),
                arguments: [repository.appendingPathComponent("scripts/build-static-swiftvmm.sh").path])
            let (status, timedOut) = build.waitForExit(timeoutSeconds: 3600)
            try #require(
                status == 0 && !timedOut && FileManager.default.isExecutableFile(atPath: staticBinary),
                "scripts/build-static-swiftvmm.sh: status \(status): \(build.standardError.text.suffix(2000))")
        }
        let script = try RunningProcess(
            executable: URL(fileURLWithPath: bash),
            arguments: [repository.appendingPathComponent("deploy/podman-e2e.sh").path, "--binary", staticBinary])
        // Its last line is the summary. After 600 s: SIGTERM, so that its EXIT trap takes its pods
        // down (waitForExit sends SIGKILL 60 s later).
        let started = Date()
        _ = script.waitForOutput(containing: " passed, ", timeoutSeconds: 600)
        let timedOut = Date().timeIntervalSince(started) >= 600
        if timedOut { script.send(SIGTERM) }
        let status = script.waitForExit(timeoutSeconds: 60).status
        let output = script.standardOutput.text
        let lines = output.split(separator: "\n").map(String.init)
        #expect(!timedOut, "deploy/podman-e2e.sh did not finish within 600 s:\n\(output.suffix(3000))")
        for line in lines where line.hasPrefix("FIGURE ") || line.hasPrefix("SKIP: ") {
            print(line)
        }
        for line in lines where line.hasPrefix("FAIL: ") {
            Issue.record("deploy/podman-e2e.sh: \(line)")
        }
        #expect(lines.contains { $0.hasPrefix("PASS: ") }, "no PASS line:\n\(output.suffix(3000))")
        let summary = lines.last { $0.contains(" passed, ") }
        #expect(
            summary?.contains(" passed, 0 failed") == true,
            "summary '\(summary ?? "none")'; stderr: \(script.standardError.text.suffix(2000))")
        #expect(status == 0, "deploy/podman-e2e.sh status \(status); stderr: \(script.standardError.text.suffix(2000))")
    }
}
