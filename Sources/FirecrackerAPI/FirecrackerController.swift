import Dispatch
import FoundationEssentials
import Synchronization
import VMM

/// Builds and starts the machine a client configured. `swiftvmm serve` does it on its main
/// thread (the process sandbox and the stop signals follow the machine there); an embedder or a
/// test may start it in place.
public protocol MachineStarter: Sendable {
    /// Builds and starts a machine with `configuration`; returns it running.
    func start(_ configuration: VirtualMachineConfiguration) throws(FirecrackerFault) -> Machine
}

/// An API answer: the status and, for 200 and 400, a JSON body.
public struct FirecrackerResponse: Sendable, Equatable {
    public var status: Int
    public var body: [UInt8]

    static let noContent = FirecrackerResponse(status: 204, body: [])

    static func ok(_ value: some Encodable) -> FirecrackerResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return fault(FirecrackerFault("Cannot encode the answer.")) }
        return FirecrackerResponse(status: 200, body: [UInt8](data))
    }

    static func fault(_ fault: FirecrackerFault) -> FirecrackerResponse {
        struct Body: Encodable {
            var faultMessage: String
            enum CodingKeys: String, CodingKey { case faultMessage = "fault_message" }
        }
        let data = (try? JSONEncoder().encode(Body(faultMessage: fault.message))) ?? Data("{}".utf8)
        return FirecrackerResponse(status: 400, body: [UInt8](data))
    }
}

/// The microVM behind the API: Firecracker's pre-boot configuration, then the running machine.
/// Requests are handled one at a time on the controller's own queue (as Firecracker's VMM
/// thread takes them), never on a vCPU, the I/O thread or the HTTP event loop.
public final class FirecrackerController: Sendable {
    /// The instance id (`--id`): GET /'s `id` and the machine's name.
    public let instanceID: String
    /// Where the VMM's log lines go (PUT /logger).
    public let logSink: FirecrackerLogSink
    private let starter: any MachineStarter
    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "swiftvmm.firecracker-api")

    struct State {
        var resources = FirecrackerResources()
        var machine: Machine?
        var metrics: FirecrackerMetricsWriter?
    }

    /// A controller for the microVM `instanceID`; `logSink` defaults to one on standard error.
    public init(instanceID: String, starter: any MachineStarter, logSink: FirecrackerLogSink? = nil) {
        self.instanceID = instanceID
        self.starter = starter
        self.logSink = logSink ?? FirecrackerLogSink(instanceID: instanceID)
    }

    /// The configuration so far.
    public var resources: FirecrackerResources { state.withLock { $0.resources } }

    /// The started machine, if any.
    public var machine: Machine? { state.withLock { $0.machine } }

    /// Answers one request (`body` nil when the request had none).
    public func handle(method: String, path: String, body: [UInt8]?) async -> FirecrackerResponse {
        await withCheckedContinuation { continuation in
            queue.async {
                let response: FirecrackerResponse
                do throws(FirecrackerFault) {
                    response = try FirecrackerRoutes.route(method: method, path: path, body: body, controller: self)
                } catch {
                    response = .fault(error)
                }
                continuation.resume(returning: response)
            }
        }
    }

    /// Takes a whole configuration file (`--config-file`) and starts the machine it describes.
    public func boot(from file: FirecrackerConfigFile) throws(FirecrackerFault) {
        let outcome = queue.sync {
            Result { () throws(FirecrackerFault) in
                if let logger = file.resources.logger { try configureLogger(logger) }
                if let metrics = file.resources.metrics { try configureMetrics(metrics) }
                state.withLock { $0.resources = file.resources }
                try startInstance()
            }
        }
        try outcome.get()
    }

    /// Applies the command line's logger and metrics options (Firecracker's `--level`,
    /// `--log-path`, `--metrics-path`, ...) before anything is served.
    public func configure(
        logger: FirecrackerLoggerConfiguration?, metrics: FirecrackerMetricsConfiguration?
    ) throws(FirecrackerFault) {
        if let logger { try configureLogger(logger) }
        if let metrics { try configureMetrics(metrics) }
    }

    /// Writes the last metrics line (the machine ended).
    public func finish() {
        queue.sync {
            let (metrics, machine) = state.withLock { ($0.metrics, $0.machine) }
            metrics?.stopTimer()
            metrics?.write(machine: machine)
        }
    }

    // MARK: - Operations (on the queue)

    var isStarted: Bool { state.withLock { $0.machine != nil } }

    func instanceInfo() -> InstanceInfo {
        let stateName: String
        switch state.withLock({ $0.machine })?.state {
        case nil: stateName = "Not started"
        case .paused: stateName = "Paused"
        default: stateName = "Running"
        }
        return InstanceInfo(
            id: instanceID, state: stateName, vmmVersion: SwiftVMMVersion.current, appName: "swiftvmm")
    }

    /// A pre-boot change of the resources; after start, Firecracker's post-boot fault.
    func updateResources(_ change: (inout FirecrackerResources) throws(FirecrackerFault) -> Void)
        throws(FirecrackerFault)
    {
        try state.withLock { (state: inout State) throws(FirecrackerFault) in
            guard state.machine == nil else { throw FirecrackerFault.postBoot }
            var next = state.resources
            try change(&next)
            state.resources = next
        }
    }

    /// The running machine, or Firecracker's pre-boot fault.
    func runningMachine() throws(FirecrackerFault) -> Machine {
        guard let machine = state.withLock({ $0.machine }) else { throw FirecrackerFault.preBoot }
        return machine
    }

    func startInstance() throws(FirecrackerFault) {
        guard !isStarted else { throw FirecrackerFault.postBoot }
        let resources = self.resources
        let configuration = try resources.virtualMachineConfiguration(id: instanceID)
        let machine = try starter.start(configuration)
        let metrics = state.withLock { state in
            state.machine = machine
            return state.metrics
        }
        metrics?.use(drives: resources.orderedDriveIDs, interfaces: resources.networkInterfaces.map(\.ifaceID))
        metrics?.startTimer { [weak self] in self?.machine }
    }

    func configureLogger(_ configuration: FirecrackerLoggerConfiguration) throws(FirecrackerFault) {
        guard !isStarted else { throw FirecrackerFault.postBoot }
        try logSink.configure(configuration)
        state.withLock { $0.resources.logger = configuration }
    }

    func configureMetrics(_ configuration: FirecrackerMetricsConfiguration) throws(FirecrackerFault) {
        guard !isStarted else { throw FirecrackerFault.postBoot }
        guard state.withLock({ $0.metrics }) == nil else {
            throw FirecrackerFault("Reinitialization of metrics not allowed.")
        }
        let writer = try FirecrackerMetricsWriter(path: configuration.metricsPath)
        state.withLock { state in
            state.metrics = writer
            state.resources.metrics = configuration
        }
    }

    func flushMetrics() throws(FirecrackerFault) {
        let machine = try runningMachine()
        state.withLock { $0.metrics }?.write(machine: machine)
    }

    func setPaused(_ paused: Bool) throws(FirecrackerFault) {
        let machine = try runningMachine()
        do {
            switch (paused, machine.state) {
            case (true, .paused), (false, .running): return
            case (true, _): try machine.pause()
            case (false, _): try machine.resume()
            }
        } catch {
            throw FirecrackerFault("Cannot \(paused ? "pause" : "resume") the microVM: \(error.description).")
        }
    }

    func sendCtrlAltDel() throws(FirecrackerFault) {
        let machine = try runningMachine()
        do {
            try machine.pressPowerButton()
        } catch {
            throw FirecrackerFault("Cannot press the power button: \(error.description).")
        }
    }

    /// PATCH /drives/{id} after boot: a new `path_on_host` replaces the disk's image under the
    /// running guest (the same path reads its size again: a resize on the host); the drive must
    /// exist.
    func updateDrive(_ update: PartialDrive) throws(FirecrackerFault) {
        let machine = try runningMachine()
        let resources = self.resources
        guard let drive = resources.drives.first(where: { $0.driveID == update.driveID }),
            let index = resources.orderedDriveIDs.firstIndex(of: update.driveID)
        else {
            throw FirecrackerFault("Invalid block device ID: \(update.driveID) - not found.")
        }
        guard let path = update.pathOnHost else { return }
        try FirecrackerResources.checkDiskImage(path, readOnly: drive.isReadOnly, driveID: drive.driveID)
        do {
            try machine.replaceDiskImage(index: index, path: path)
        } catch {
            throw FirecrackerFault("Unable to patch the block device \(update.driveID): \(error.description)")
        }
        state.withLock { state in
            if let position = state.resources.drives.firstIndex(where: { $0.driveID == update.driveID }) {
                state.resources.drives[position].pathOnHost = path
            }
        }
    }

    /// PATCH /network-interfaces/{id} after boot: the interface must exist (rate limiters, the
    /// only thing Firecracker changes here, are refused while decoding).
    func updateNetworkInterface(_ update: PartialNetworkInterface) throws(FirecrackerFault) {
        _ = try runningMachine()
        guard resources.networkInterfaces.contains(where: { $0.ifaceID == update.ifaceID }) else {
            throw FirecrackerFault("Invalid interface ID: \(update.ifaceID) - not found.")
        }
    }
}

extension FirecrackerResources {
    /// Drive ids in the guest's disk order (the root device first).
    var orderedDriveIDs: [String] {
        (drives.filter(\.isRootDevice) + drives.filter { !$0.isRootDevice }).map(\.driveID)
    }
}
