import PodNetwork
import Testing
import VMM

@testable import Launcher

/// `launch`'s exit statuses and messages for the pod network's errors: an invalid value is
/// status 10 with the same line as any invalid value, a set-up failure status 18.
@Suite struct PodNetworkErrorStatusTests {
    @Test func anInvalidValueIsStatus10WithTheUsualLine() {
        let error = PodNetworkError.invalidValue(field: "pod.network.mtu", value: "1", expected: "68 to 65535")
        #expect(error.exitStatus == ExitStatus.invalidArgument)
        let machineError = MachineError(error)
        let usual = MachineError.invalidValue(field: "pod.network.mtu", value: "1", expected: "68 to 65535")
        #expect(machineError == usual)
        #expect(CommandFailure(machineError) == CommandFailure(message: usual.description, status: 10))
    }

    @Test func aSetUpFailureIsStatus18() {
        let error = PodNetworkError(step: "creating tap tap0", errno: 1, advice: "the container needs NET_ADMIN")
        #expect(error.exitStatus == ExitStatus.podNetwork)
        #expect(error.code == .setUpFailed && error.field == nil)
        #expect(
            error.message.hasPrefix("pod network: creating tap tap0 failed: ") && error.message.contains("(errno 1)"))
        #expect(error.message.hasSuffix("; the container needs NET_ADMIN"))
    }
}
