import Logging
import Observability
import VMM

/// The HTTP endpoint and the readiness rule of `launch` and `run`: started before the machine
/// is built (a bad address or a port in use ends the run before the guest starts), then told
/// about each machine the boot loop makes (`StepOrder`, rules 6 and 7).
struct ObservabilityStep {
    let current = CurrentMachine()
    let metrics = MachineMetrics()
    let readiness: Readiness
    let endpoint: ObservabilityEndpoint?
    /// The same endpoint on a unix socket, for `swiftvmm probe` (exec probes).
    let probeEndpoint: ObservabilityEndpoint?

    /// Parses `listen` (`HOST:PORT`, nil: no endpoint) and starts serving, on `probeSocket` too
    /// (a unix socket path, nil: none).
    init(
        listen: String?, field: String, probeSocket: String?, probeField: String, rule: ReadinessRule,
        ruleField: String, logger: Logger
    ) throws(CommandFailure) {
        var started: ObservabilityEndpoint?
        do {
            readiness = try Readiness(rule: rule, field: ruleField)
            if let listen {
                let address = try ObservabilityEndpoint.Address(parsing: listen, field: field)
                endpoint = try ObservabilityEndpoint.start(
                    address: address, field: field, machine: current, metrics: metrics, readiness: readiness,
                    logger: logger)
                started = endpoint
                logger.info("endpoint listening", metadata: ["address": "\(address)", "ready_rule": "\(rule)"])
            } else {
                endpoint = nil
            }
            if let probeSocket {
                probeEndpoint = try ObservabilityEndpoint.start(
                    address: .unixSocket(path: probeSocket), field: probeField, machine: current, metrics: metrics,
                    readiness: readiness, logger: logger)
                logger.info("probe socket listening", metadata: ["path": "\(probeSocket)"])
            } else {
                probeEndpoint = nil
            }
        } catch {
            started?.stop()
            throw CommandFailure(error)
        }
        readiness.startChecking()
    }

    /// A new machine (each boot): reported on from now; the console rule starts over and reads
    /// its console lines.
    func attach(_ machine: Machine) {
        current.set(machine)
        readiness.reset()
        guard case .consoleLine = readiness.rule, let console = machine.console else { return }
        let lines = console.lines()
        let readiness = self.readiness
        Task.detached {
            for await line in lines { readiness.observe(consoleLine: line) }
        }
    }

    /// The machine's run ended: let it go (a reboot in place builds the next one).
    func detach() { current.set(nil) }

    func stop() {
        endpoint?.stop()
        probeEndpoint?.stop()
    }

    /// Whether anything listens or connects (the sandbox then allows sockets): an endpoint, or
    /// the TCP readiness rule.
    var usesNetwork: Bool {
        if case .tcpPort = readiness.rule { return true }
        return endpoint != nil || probeEndpoint != nil
    }
}
