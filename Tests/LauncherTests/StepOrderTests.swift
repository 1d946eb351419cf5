import Logging
import Testing
import VMM

@testable import Launcher

/// The real step lists of `run`, `launch`, `serve` and of one boot, by name, in the order
/// `StepOrder`'s rules fix (and each pipeline's documentation lists). Building the lists runs
/// nothing: no signal is blocked, no logging bootstrapped, no /dev/kvm opened.
@Suite struct StepOrderTests {
    @Test func runsSteps() {
        let run = RunPipeline(
            RunPipeline.Options(
                configuration: { VirtualMachineConfiguration() }, logLevel: .notice, graceSeconds: 30,
                rebootInPlace: false))
        #expect(
            run.pipeline.names == [
                "logging", "configuration", "shutdown signals", "observability endpoint", "machines",
            ])
        #expect(run.pipeline.standingNames.isEmpty, "nothing is set up by building the list")
    }

    @Test func launchsSteps() {
        let launch = LaunchPipeline(
            LaunchPipeline.Options(configFile: "/nonexistent/vm.json", environment: [:], logLevel: .info))
        let names = launch.pipeline.names
        #expect(
            names == [
                "configuration", "logging", "shutdown signals", "resource check", "pod network",
                "observability endpoint", "console", "machines",
            ])
        // The rules the order follows, one by one.
        func before(_ first: String, _ second: String) -> Bool {
            guard let a = names.firstIndex(of: first), let b = names.firstIndex(of: second) else { return false }
            return a < b
        }
        #expect(names.first == "configuration", "rule 1: checked before anything is touched")
        #expect(before("shutdown signals", "pod network"), "rule 2: signals before the DHCP server's thread")
        #expect(before("shutdown signals", "observability endpoint"), "rule 2: signals before the endpoint's threads")
        #expect(before("pod network", "machines"), "rule 3: the network before the build and the capability drop")
        #expect(before("pod network", "observability endpoint"), "a TCP readiness rule needs the lease")
        #expect(before("observability endpoint", "machines"), "rule 6: the endpoint before the machine")
    }

    @Test func servesSteps() {
        let serve = ServePipeline(
            ServePipeline.Options(
                apiSocket: "/nonexistent/api.sock", instanceID: "test", configFile: nil, graceSeconds: 30,
                seccomp: nil, logger: nil, metricsPath: nil, maximumPayloadBytes: 51_200))
        #expect(
            serve.pipeline.names == [
                "logging", "configuration", "shutdown signals", "controller", "API server", "signal thread",
                "configuration file boot", "machines",
            ])
    }

    private func bootLoop(startsSignalThread: Bool = true) -> BootLoop {
        let loop = BootLoop(
            configuration: VirtualMachineConfiguration(), rebootInPlace: true,
            signals: ShutdownSignals(graceSeconds: 30, log: .standardError), logger: Logger(label: "test"),
            log: .standardError, events: { _ in })
        loop.startsSignalThread = startsSignalThread
        return loop
    }

    @Test func theFirstBootsSteps() {
        let loop = bootLoop()
        let names = loop.steps(for: BootLoop.Boot(number: 1, host: nil)).map(\.name)
        #expect(
            names == [
                "startup code", "machine", "process sandbox", "signal thread", "signals follow the machine",
                "observers",
                "start", "run to the end",
            ])
    }

    @Test func serveStartedItsSignalThreadBefore() {
        let names = bootLoop(startsSignalThread: false).steps(for: BootLoop.Boot(number: 1, host: nil)).map(\.name)
        #expect(
            names == [
                "startup code", "machine", "process sandbox", "signals follow the machine", "observers", "start",
                "run to the end",
            ])
    }

    @Test func aRebootInPlaceBuildsAndRunsOnly() {
        let names = bootLoop().steps(for: BootLoop.Boot(number: 2, host: nil)).map(\.name)
        #expect(names == ["machine", "signals follow the machine", "observers", "start", "run to the end"])
    }
}
