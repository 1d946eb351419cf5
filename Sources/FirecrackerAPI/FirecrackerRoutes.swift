import VMM

/// Firecracker's request table: which method and path do what, in Firecracker's order of
/// checks (a GET with a body, an empty PUT or PATCH, then the path), with its fault messages.
enum FirecrackerRoutes {
    /// Paths of Firecracker's API that SwiftVMM does not serve (yet): always a 400 naming them.
    static let unsupportedResources: [String: String] = [
        "balloon": "the balloon device (/balloon)",
        "cpu-config": "custom CPU templates (/cpu-config)",
        "hotplug": "memory hotplug (/hotplug)",
        "mmds": "the microVM metadata service (/mmds)",
        "pmem": "virtio-pmem devices (/pmem)",
        "snapshot": "snapshots (/snapshot)",
        "vsock": "vsock devices (/vsock)",
    ]

    static func route(method: String, path: String, body: [UInt8]?, controller: FirecrackerController)
        throws(FirecrackerFault) -> FirecrackerResponse
    {
        let tokens = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let resource = tokens.first ?? ""
        let id = tokens.count > 1 ? tokens[1] : nil
        // An empty body counts as none, as in Firecracker's HTTP layer.
        let body = body.flatMap { $0.isEmpty ? nil : $0 }
        switch method {
        case "GET":
            guard body == nil else { throw FirecrackerFault("GET request cannot have a body.") }
            return try get(resource: resource, tokens: tokens, path: path, controller: controller)
        case "PUT":
            guard let body else { throw FirecrackerFault("Empty PUT request.") }
            try put(resource: resource, id: id, body: body, path: path, controller: controller)
            return .noContent
        case "PATCH":
            guard let body else { throw FirecrackerFault("Empty PATCH request.") }
            try patch(resource: resource, id: id, body: body, path: path, controller: controller)
            return .noContent
        default:
            throw invalid(method, path)
        }
    }

    private static func get(resource: String, tokens: [String], path: String, controller: FirecrackerController)
        throws(FirecrackerFault) -> FirecrackerResponse
    {
        switch resource {
        case "": return .ok(controller.instanceInfo())
        case "version":
            // SwiftVMM's own version: it is not a Firecracker build.
            return .ok(["firecracker_version": SwiftVMMVersion.current])
        case "machine-config": return .ok(controller.resources.machine)
        case "vm" where tokens.count > 1 && tokens[1] == "config":
            return .ok(FirecrackerConfigFile(controller.resources))
        default:
            if let what = unsupportedResources[resource] { throw FirecrackerFault.unsupported(what) }
            throw invalid("GET", path)
        }
    }

    private static func put(
        resource: String, id: String?, body: [UInt8], path: String, controller: FirecrackerController
    ) throws(FirecrackerFault) {
        switch resource {
        case "actions":
            let action = try FirecrackerRequestBody.decode(InstanceAction.self, body)
            switch action.actionType {
            case .instanceStart: try controller.startInstance()
            case .sendCtrlAltDel: try controller.sendCtrlAltDel()
            case .flushMetrics: try controller.flushMetrics()
            }
        case "boot-source":
            let source = try FirecrackerRequestBody.decode(FirecrackerBootSource.self, body)
            try controller.updateResources { (resources) throws(FirecrackerFault) in try resources.setBootSource(source)
            }
        case "drives":
            let id = try checkedID(id)
            let drive = try FirecrackerRequestBody.decode(FirecrackerDrive.self, body)
            try matching(id, drive.driveID)
            try controller.updateResources { (resources) throws(FirecrackerFault) in try resources.putDrive(drive) }
        case "network-interfaces":
            let id = try checkedID(id)
            let interface = try FirecrackerRequestBody.decode(FirecrackerNetworkInterface.self, body)
            try matching(id, interface.ifaceID)
            try controller.updateResources { (resources) throws(FirecrackerFault) in
                try resources.putNetworkInterface(interface)
            }
        case "machine-config":
            let update = try FirecrackerRequestBody.decode(MachineConfigurationUpdate.self, body)
            try controller.updateResources { (resources) throws(FirecrackerFault) in
                try resources.update(update, replace: true)
            }
        case "logger":
            try controller.configureLogger(
                try FirecrackerRequestBody.decode(FirecrackerLoggerConfiguration.self, body))
        case "metrics":
            try controller.configureMetrics(
                try FirecrackerRequestBody.decode(FirecrackerMetricsConfiguration.self, body))
        case "entropy":
            let device = try FirecrackerRequestBody.decode(FirecrackerEntropyDevice.self, body)
            try controller.updateResources { $0.entropy = device }
        case "serial":
            let device = try FirecrackerRequestBody.decode(FirecrackerSerialDevice.self, body)
            if let path = device.serialOutPath, path.isEmpty {
                throw FirecrackerFault("serial_out_path must not be empty.")
            }
            try controller.updateResources { $0.serial = device }
        default:
            if let what = unsupportedResources[resource] { throw FirecrackerFault.unsupported(what) }
            throw invalid("PUT", path)
        }
    }

    private static func patch(
        resource: String, id: String?, body: [UInt8], path: String, controller: FirecrackerController
    ) throws(FirecrackerFault) {
        switch resource {
        case "machine-config":
            let update = try FirecrackerRequestBody.decode(MachineConfigurationUpdate.self, body)
            guard !update.isEmpty else { throw FirecrackerFault("Empty PATCH request.") }
            try controller.updateResources { (resources) throws(FirecrackerFault) in
                try resources.update(update, replace: false)
            }
        case "vm":
            let change = try FirecrackerRequestBody.decode(VMStateChange.self, body)
            try controller.setPaused(change.state == .paused)
        case "drives":
            let id = try checkedID(id)
            let update = try FirecrackerRequestBody.decode(PartialDrive.self, body)
            try matching(id, update.driveID)
            try controller.updateDrive(update)
        case "network-interfaces":
            let id = try checkedID(id)
            let update = try FirecrackerRequestBody.decode(PartialNetworkInterface.self, body)
            try matching(id, update.ifaceID)
            try controller.updateNetworkInterface(update)
        default:
            if let what = unsupportedResources[resource] { throw FirecrackerFault.unsupported(what) }
            throw invalid("PATCH", path)
        }
    }

    static func invalid(_ method: String, _ path: String) -> FirecrackerFault {
        FirecrackerFault("Invalid request method and/or path: \(method) \(path).")
    }

    private static func checkedID(_ id: String?) throws(FirecrackerFault) -> String {
        let id = id ?? ""
        try FirecrackerResources.checkID(id)
        return id
    }

    private static func matching(_ pathID: String, _ bodyID: String) throws(FirecrackerFault) {
        guard pathID == bodyID else {
            throw FirecrackerFault("The id from the path does not match the id from the body!")
        }
    }
}
