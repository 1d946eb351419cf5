import Foundation
import Testing

/// The manifests in deploy/ against the Kubernetes API's schemas (kubernetes-validate --strict,
/// from PyPI, in the venv scripts/podman-host.sh makes) and against each other (deploy/validate.sh).
@Suite(.tags(.podman)) struct DeployManifestTests {
    private func validate(_ extra: [String] = []) throws -> (status: Int32, output: String) {
        let bash = try HostTool.require("bash", package: "bash")
        let process = try RunningProcess(
            executable: URL(fileURLWithPath: bash),
            arguments: [SwiftVMMBinary.repositoryRoot.appendingPathComponent("deploy/validate.sh").path] + extra)
        let (status, _) = process.waitForExit(timeoutSeconds: 300)
        return (status, process.standardOutput.text + process.standardError.text)
    }

    @Test func theManifestsAreValidAndAgree() throws {
        let result = try validate()
        #expect(result.status == 0, "\(result.output)")
        for file in ["configmap.yaml", "pod.yaml", "deployment.yaml"] {
            #expect(result.output.contains("deploy/\(file) passed"), "\(file): \(result.output)")
        }
        #expect(result.output.contains("agree"), "\(result.output)")
    }

    @Test func aMisspelledFieldFails() throws {
        let pod = try String(
            contentsOf: SwiftVMMBinary.repositoryRoot.appendingPathComponent("deploy/pod.yaml"), encoding: .utf8)
        let bad = pod.replacingOccurrences(of: "imagePullPolicy:", with: "imagePulPolicy:")
        #expect(bad != pod)
        let path = try SwiftVMMBinary.temporaryFile("bad-pod-\(UUID().uuidString).yaml", contents: Data(bad.utf8)).path
        let result = try validate([path])
        #expect(result.status != 0 && result.output.contains("imagePulPolicy"), "\(result.output)")
    }
}
